import ArgumentParser
import ImageEngine
import SystemPackage
import SystemSupport

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check that an image reads back completely, and matches a source tree.",
        discussion: """
            Without SOURCE: every directory, inode and data block must decode. With \
            SOURCE: every entry must match in type, mode, mtime, owner, symlink target, \
            hard links and content, with nothing missing or extra.
            """
    )

    @Argument(help: "The image to check.")
    var image: String

    @Argument(help: "The directory the image should hold.")
    var source: String?

    @Flag(help: "Expect the source's owners instead of root:root.")
    var keepOwner = false

    @Option(help: "Threads (default: all cores).")
    var jobs: Int = Processors.available

    @Flag(help: "No summary.")
    var quiet = false

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        var options = VerifyOptions()
        options.keepOwner = keepOwner
        options.jobs = jobs
        let report = try reportingErrors {
            let tree = try source.map { try SourceTree(scanning: CommandLinePath.filePath($0)) }
            return try Verifier.verify(image: CommandLinePath.filePath(image), against: tree, options: options)
        }
        if !quiet {
            print("\(image): OK, \(report.entries) entries, \(report.files) files, \(formatMegabytes(report.bytes)) checked")
        }
    }
}
