import Glibc
import SquashFSFormat
import SystemPackage
import SystemSupport

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
        /// This run finished a deletion an earlier one began: `summary` and
        /// `verified` describe only the entries that were still there.
        public var resumedDeletion = false
    }

    public func run() throws -> Result {
        let start = MonotonicClock.now()
        // A file (not a directory) is read as a tarball.
        if isRegularFile(source) { return try runFromTarball(startedAt: start) }
        defer { InterruptCleanup.notice = nil }
        if let resumed = try resumeInterruptedDeletion(start: start) { return resumed }
        InterruptCleanup.notice = "interrupted: nothing was written and \(source) is untouched"
        let tree = try SourceTree(scanning: source)
        try refuseImageInsideSource(tree)
        let (output, summary, report) = try writeImage(of: tree)
        guard deleteSource else {
            try output.commit()
            return Result(summary: summary, verified: report, seconds: MonotonicClock.now() - start)
        }
        // The marker goes first: from the moment the image has its name until
        // the last entry is gone, a rerun must find it.
        let identity = try FileIdentity(of: output.descriptor, path: image)
        let marker = DeletionMarker(
            sourceIdentity: FileIdentity(of: tree.root),
            imageIdentity: identity, imageBytes: summary.imageBytes, keepOwner: options.keepOwner, source: source.string)
        try marker.write(beside: image)
        do {
            try output.commit()
        } catch {
            try? DeletionMarker.remove(beside: image)
            throw error
        }
        try removeContents(of: tree)
        return Result(summary: summary, verified: report, seconds: MonotonicClock.now() - start)
    }

    /// Writes the image of `tree` and verifies it if asked to. With a verify
    /// to follow, `--reuse` takes xz blocks on their check; should the
    /// verify then fail, the image is written once more with every reused
    /// block decompressed and compared (`ReuseConfirmation`).
    private func writeImage(of tree: SourceTree) throws -> (AtomicImageFile, ImageSummary, VerifyReport?) {
        let verifying = verify || deleteSource
        var options = self.options
        if verifying { options.reuseConfirmation = .xzCheckThenVerify }
        do {
            return try writeImage(of: tree, options: options, verifying: verifying)
        } catch is ReuseCheckFailedVerify {
            options.reuseConfirmation = .decompressing
            var (output, summary, report) = try writeImage(of: tree, options: options, verifying: verifying)
            summary.reuse?.writtenAgain = true
            return (output, summary, report)
        }
    }

    private struct ReuseCheckFailedVerify: Error {}

    private func writeImage(of tree: SourceTree, options: SquashOptions, verifying: Bool) throws -> (AtomicImageFile, ImageSummary, VerifyReport?) {
        let output = try AtomicImageFile(creating: image, force: force)
        let file = try SquashFSFile(descriptor: output.descriptor, writable: true, path: image)

        let progress = Progress.make(label: "squash", files: tree.entryCount, bytes: tree.regularFileBytes, quiet: quiet)
        var summary = try withImagePath {
            defer { progress?.finish() }
            return try ImageWriter.write(tree, to: file, options: options, progress: progress)
        }

        var report: VerifyReport?
        if verifying {
            var verifyOptions = VerifyOptions()
            verifyOptions.keepOwner = options.keepOwner
            verifyOptions.jobs = options.jobs
            InterruptCleanup.notice = "interrupted while verifying: nothing was written and \(source) is untouched"
            do {
                report = try Verifier.verify(image: output.descriptor, path: image, against: tree, options: verifyOptions)
            } catch where (summary.reuse?.blocksOnCheck ?? 0) > 0 {
                throw ReuseCheckFailedVerify()
            }
        }
        summary.imageBytes = UInt64(file.size)
        return (output, summary, report)
    }

    /// Empties the verified tree, then removes the marker. When entries are
    /// kept the marker stays, so the same command finishes the job once
    /// they are dealt with.
    private func removeContents(of tree: SourceTree) throws {
        InterruptCleanup.notice = "interrupted while deleting \(source): \(image) is complete and verified; run the same command again to finish"
        try SourceRemover(tree: tree).removeContents()
        try DeletionMarker.remove(beside: image)
    }

    /// A rerun after a deletion was interrupted: checks that everything
    /// still in the tree is in the image, unchanged, and deletes it. Returns
    /// nil when there is nothing to resume (no marker, or a marker left by a
    /// run that died before its image got a name: the tree is whole then).
    private func resumeInterruptedDeletion(start: Double) throws -> Result? {
        guard let marker = try DeletionMarker.read(beside: image) else { return nil }
        guard marker.describes(image: image) else {
            try DeletionMarker.remove(beside: image)
            return nil
        }
        let tree = try SourceTree(scanning: source)
        guard FileIdentity(of: tree.root) == marker.sourceIdentity else {
            throw KsqshError(
                .imageExists, path: image,
                "holds \(marker.source), which was being emptied when ksqsh was interrupted; finish that with 'ksqsh squash --verify --delete-source \(marker.source) \(image)'")
        }
        guard deleteSource else {
            throw KsqshError(
                .imageExists, path: image,
                "holds \(source), whose deletion was interrupted (the tree is incomplete, so it cannot be squashed again); finish with --verify --delete-source")
        }
        var verifyOptions = VerifyOptions()
        verifyOptions.keepOwner = marker.keepOwner
        verifyOptions.jobs = options.jobs
        verifyOptions.sourceMayLackEntries = true
        InterruptCleanup.notice = "interrupted while checking what is left of \(source) against \(image); run the same command again to finish"
        let report: VerifyReport
        do {
            report = try Verifier.verify(image: image, against: tree, options: verifyOptions)
        } catch let error as KsqshError where error.kind == .imageDiffers {
            // The verifier's headline names the image; its indented lines list the entries.
            let details = error.message.split(separator: "\n", maxSplits: 1).dropFirst().first.map { "\n" + $0 } ?? ""
            throw KsqshError(
                .sourceChanged, path: source,
                "gained or changed entries since \(image) was verified and deleting began, so nothing more was deleted. Move them out of the tree and run again to finish, or remove \(DeletionMarker.path(beside: image)) to keep the tree as it is\(details)")
        }
        try removeContents(of: tree)
        let summary = ImageSummary(entries: report.entries, inputBytes: report.bytes, imageBytes: marker.imageBytes)
        return Result(summary: summary, verified: report, seconds: MonotonicClock.now() - start, resumedDeletion: true)
    }

    /// An image written into the tree it packs would be squashed into itself
    /// on the next run, and deleted by --delete-source.
    private func refuseImageInsideSource(_ tree: SourceTree) throws {
        let directory = image.removingLastComponent().isEmpty ? FilePath(".") : image.removingLastComponent()
        guard let info = try? directory.stat() else { return }
        var node: TreeNode? = nil
        tree.root.forEachInPreorder { candidate in
            if candidate.kind == .directory, candidate.identity == (UInt64(info.deviceID.rawValue), UInt64(info.inode.rawValue)) { node = candidate }
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
