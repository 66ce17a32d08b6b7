import Foundation
import ImageEngine
import SystemPackage
import SystemSupport
import Testing

/// Every input in Fixtures/fuzz-regressions — what `make fuzz` found, and
/// damage the corruption sweep found verify missing — read through each
/// reading path (status's layout check, mount's metadata check, verify):
/// each must fail with a KsqshError saying the image is unreadable or
/// damaged, and `ksqsh verify` must exit 40 or 41 with one line.
@Suite("Fuzz regressions", .hangGuard)
struct FuzzRegressionTests {
    static let directory = ByteString(#filePath).parent / "Fixtures/fuzz-regressions"

    static var inputs: [ByteString] {
        ((try? FS.list(directory)) ?? []).filter { !$0.string.hasPrefix(".") }.sorted { $0.string < $1.string }
    }

    @Test("the regression inputs are there")
    func inputsExist() {
        #expect(Self.inputs.count >= 5, "expected the committed inputs in \(Self.directory)")
    }

    @Test("each input fails every reading path with a clean KsqshError", arguments: inputs)
    func readsCleanly(_ name: ByteString) throws {
        let path = FilePath((Self.directory / name).string)
        var options = VerifyOptions()
        options.jobs = 1
        let paths: [(String, () throws -> Void)] = [
            ("metadata", { try ImageCheck.metadata(of: path) }),
            ("verify", { _ = try Verifier.verify(image: path, against: nil, options: options) }),
        ]
        for (what, read) in paths {
            do {
                try read()
                Issue.record("\(what) accepted \(name)")
            } catch let error as KsqshError {
                #expect([.imageUnreadable, .imageCorrupt].contains(error.kind), "\(what) on \(name): \(error.kind): \(error)")
            }
        }
        // The layout check is the cheap part: it may pass an image whose damage lies deeper.
        do {
            try ImageCheck.layout(of: path)
        } catch let error as KsqshError {
            #expect([.imageUnreadable, .imageCorrupt].contains(error.kind), "layout on \(name): \(error.kind): \(error)")
        }

        let result = try Ksqsh.run(["verify", Self.directory / name, "--quiet", "--jobs", "1"], timeout: .seconds(30))
        #expect([Ksqsh.Exit.imageUnreadable, Ksqsh.Exit.imageCorrupt].contains(result.exitCode ?? -1), "\(result)")
        #expect(result.stderrLines.count == 1, "one line: \(result)")
    }
}
