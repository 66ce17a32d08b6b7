import Foundation
import Portage
import Testing

/// `make templates` embeds every file in templates/ under its name, and
/// HookTemplate's raw values are those names: the one table of templates.
@Suite("templates/, HookTemplate and the embedded copy name the same files")
struct TemplateTableTests {
    @Test("Every file in templates/ is a HookTemplate case and is embedded, and nothing else is (run 'make templates' if not)")
    func templatesAreTheCases() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Repository.root.appendingPathComponent("templates").path)
            .filter { !$0.hasPrefix(".") }.sorted()
        #expect(files == HookTemplate.allCases.map(\.rawValue).sorted(), "a file in templates/ without a HookTemplate case, or a case without a file")
        #expect(files == EmbeddedTemplates.files.keys.sorted(), "the embedded copy is out of date: run 'make templates'")
    }
}
