import Glibc
import SystemPackage

/// `ksqsh squash`: a source tree into an image, optionally verified and then
/// removed. The order is what makes it safe: the image is complete, synced
/// and (with verify) proven equal to the tree before it gets its name, and
/// the tree is emptied only after that.
public struct Squash {
    public var source: FilePath
    public var image: FilePath
    public var options = SquashOptions()
    public var verify = false
    public var deleteSource = false
    public var force = false
    public var quiet = false

    public init(source: FilePath, image: FilePath) {
        self.source = source
        self.image = image
    }

    public struct Result: Sendable {
        public var summary: ImageSummary
        public var verified: VerifyReport?
        public var seconds: Double
    }

    public func run() throws -> Result {
        let start = Progress.now()
        if Squash.isTarball(source) { return try runFromTarball(startedAt: start) }
        let tree = try SourceTree(scanning: source)
        try refuseImageInsideSource(tree)
        let output = try AtomicImageFile(creating: image, force: force)
        let file = try SquashFSFile(descriptor: output.descriptor, writable: true, path: image)

        let progress = Progress.make(label: "squash", files: tree.entryCount, bytes: tree.regularFileBytes, quiet: quiet)
        var summary = try withImagePath {
            defer { progress?.finish() }
            return try ImageWriter.write(tree, to: file, options: options, progress: progress)
        }

        var report: VerifyReport?
        if verify || deleteSource {
            var verifyOptions = VerifyOptions()
            verifyOptions.keepOwner = options.keepOwner
            verifyOptions.jobs = options.jobs
            report = try Verifier.verify(image: output.descriptor, path: image, against: tree, options: verifyOptions)
        }
        try output.commit()
        if deleteSource {
            try SourceRemover(tree: tree).removeContents()
        }
        summary.imageBytes = UInt64(file.size)
        return Result(summary: summary, verified: report, seconds: Progress.now() - start)
    }

    /// An image written into the tree it packs would be squashed into itself
    /// on the next run, and deleted by --delete-source.
    private func refuseImageInsideSource(_ tree: SourceTree) throws {
        let directory = image.removingLastComponent().isEmpty ? FilePath(".") : image.removingLastComponent()
        var info = stat()
        guard directory.withPlatformString({ stat($0, &info) }) == 0 else { return }
        var node: TreeNode? = nil
        tree.root.forEachInPreorder { candidate in
            if candidate.kind == .directory, candidate.identity == (UInt64(info.st_dev), UInt64(info.st_ino)) { node = candidate }
        }
        if node != nil {
            throw KsqshError(.imageDirectoryNotWritable, path: image, "image would be inside the source tree \(tree.path); write it elsewhere (e.g. next to the tree)")
        }
    }

    /// Errors that name no path happened writing the image: name it.
    func withImagePath<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as KsqshError where error.path == nil {
            throw KsqshError(error.kind, path: image, error.message, errno: error.errno)
        }
    }
}
