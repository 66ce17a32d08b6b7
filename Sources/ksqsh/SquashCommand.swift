import ArgumentParser
import ImageEngine
import SquashFSFormat
import SystemPackage
import SystemSupport

struct SquashCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "squash",
        abstract: "Pack a directory into a squashfs image.",
        discussion: """
            Writes IMAGE atomically: it appears only when complete. Ownership is \
            recorded as root:root unless --keep-owner. The same tree always gives \
            the same bytes (the image time is SOURCE_DATE_EPOCH, else the newest mtime).
            """
    )

    @Argument(help: "The directory, or a tarball (.tar, .tar.xz, .tar.gz, .tar.zst) to read without unpacking it.")
    var source: String

    @Argument(help: "The image file to create.")
    var image: String

    @Option(help: "Data block size, a power of two from 4K to 1M.")
    var blockSize = "1M"

    @Option(help: "Compressor.")
    var compression: Compression = .xz

    @Option(help: "Compression threads (default: all cores).")
    var jobs: Int = Processors.available

    @Option(help: "Data order: kernel (what a kernel build reads first, first) or plain; default: kernel for kernel trees.")
    var layout: DataLayout?

    @Option(help: ArgumentHelp("Store files in this order first: lines of 'PATH PRIORITY' as for mksquashfs -sort; higher first.", valueName: "file"))
    var sortFile: String?

    @Option(
        help: ArgumentHelp(
            "Copy compressed blocks from this earlier image (or the *.sqfs images in this directory) where it holds the same bytes; the image is the same as without. Repeatable.",
            valueName: "image"))
    var reuse: [String] = []

    @Flag(help: "Record the files' owners instead of root:root.")
    var keepOwner = false

    @Flag(help: "Read the image back and compare it with the source before naming it.")
    var verify = false

    @Flag(help: "After a successful verify, delete the source's contents (the directory itself stays).")
    var deleteSource = false

    @Flag(help: "Replace IMAGE if it exists.")
    var force = false

    @Flag(help: "No progress and no summary.")
    var quiet = false

    func validate() throws {
        guard let size = SquashOptions.parseSize(blockSize), SquashOptions.isValidBlockSize(size) else {
            throw ValidationError("--block-size must be a power of two from 4K to 1M, not '\(blockSize)'")
        }
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
    }

    func run() throws {
        var squash = Squash(source: CommandLinePath.filePath(source), image: CommandLinePath.filePath(image))
        squash.options.blockSize = SquashOptions.parseSize(blockSize)!
        squash.options.compression = compression
        squash.options.jobs = jobs
        squash.options.keepOwner = keepOwner
        squash.options.layout = layout
        squash.options.reuse = reuse.map(CommandLinePath.filePath)
        if let sortFile {
            squash.options.sortFile = try reportingErrors { try SortFile(contentsOf: FilePath(sortFile)) }
        }
        squash.verify = verify
        squash.deleteSource = deleteSource
        squash.force = force
        squash.quiet = quiet

        let result = try reportingErrors { try squash.run() }
        let summary = result.summary
        for problem in summary.reuse?.problems ?? [] { writeToStandardErrorLine("ksqsh: warning: \(problem)") }
        guard !quiet else { return }
        if result.resumedDeletion {
            print("\(image): finished the interrupted deletion of \(source): its \(summary.entries) remaining entries were in the image, unchanged, and are deleted")
            return
        }
        var line = "\(image): \(summary.entries) entries, \(formatMegabytes(summary.inputBytes)) → \(formatMegabytes(summary.imageBytes))"
        if summary.inputBytes > 0 {
            line += String(cFormat: " (%.1f%%)", Double(summary.imageBytes) * 100 / Double(summary.inputBytes))
        }
        if let reuse = summary.reuse { line += ", " + reuse.summary }
        if result.verified != nil { line += ", verified" }
        if deleteSource { line += ", source emptied" }
        line += String(cFormat: ", %.1f s", result.seconds)
        print(line)
    }
}
