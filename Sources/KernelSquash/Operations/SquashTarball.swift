import Glibc
import SystemPackage

/// `ksqsh squash TARBALL IMAGE`: the archive is decompressed and read once,
/// front to back, straight into the image; not one file is unpacked to
/// disk (on flash, 90,000 temporary inodes are the problem).
extension Squash {
    /// Whether `source` is a file (a tarball) rather than a directory.
    static func isTarball(_ source: FilePath) -> Bool {
        var info = stat()
        return source.withPlatformString { stat($0, &info) } == 0 && info.st_mode & S_IFMT == S_IFREG
    }

    func runFromTarball(startedAt start: Double) throws -> Result {
        if deleteSource {
            throw KsqshError(.sourceNotDirectory, path: source, "--delete-source empties a directory; a tarball is never deleted")
        }
        if verify {
            throw KsqshError(.sourceNotDirectory, path: source, "--verify compares the image with a directory; unpack the tarball and run: ksqsh verify IMAGE DIRECTORY")
        }
        if options.sortFile != nil {
            throw KsqshError(.sourceNotDirectory, path: source, "--sort-file orders a directory's files; a tarball is stored in archive order")
        }
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(source, .readOnly, options: [.closeOnExec])
        } catch let errno as Errno {
            throw KsqshError(errno == .noSuchFileOrDirectory ? .sourceMissing : .sourceUnreadable, path: source, "cannot open the tarball", errno: errno)
        }
        defer { try? descriptor.close() }
        let reader = TarReader(try TarballStream.open(descriptor, path: source), path: source)

        let output = try AtomicImageFile(creating: image, force: force)
        let file = try SquashFSFile(descriptor: output.descriptor, writable: true, path: image)
        var info = stat()
        fstat(descriptor.rawValue, &info)
        let summary = try withImagePath {
            try write(from: reader, to: file, tarballBytes: UInt64(max(info.st_size, 0)))
        }
        try output.commit()
        return Result(summary: summary, verified: nil, seconds: Progress.now() - start)
    }

    private func write(from reader: TarReader, to file: SquashFSFile, tarballBytes: UInt64) throws -> ImageSummary {
        // A tarball's contents are known only as they stream by, so the
        // kernel rules apply unless --layout plain: on other trees they only
        // group files named like Kconfig*, Makefile*, Kbuild* and those below
        // scripts/, include/ and tools/.
        let layout = options.layout ?? .kernel
        let lanes = layout == .kernel ? KernelReadOrder.Group.allCases.count : 1
        let image = try ImageWriter(file: file, options: options)
        let recall = try ImageTailRecall(file: file, options: options, keep: 2 * options.jobs + 2 * lanes + 2)
        let data = try DataWriter(file: file, options: options, lanes: lanes, recall: recall, progress: nil)
        let index = TarballIndex()
        let progress = Progress.make(label: "squash", files: 0, bytes: tarballBytes, quiet: quiet)
        defer { progress?.finish() }

        var consumed: UInt64 = 0
        do {
            while let entry = try reader.next() {
                if let (node, layoutPath) = try index.add(entry) {
                    let lane = layout == .kernel ? KernelReadOrder.group(of: layoutPath).rawValue : 0
                    try data.store(node, lane: lane) { TarEntryContent(node, reader: reader) }
                }
                progress?.advance(files: 1, bytes: reader.fileBytesRead - consumed)
                consumed = reader.fileBytesRead
            }
            try data.finish()
            let (tree, layouts) = try index.buildTree(layouts: data.layouts)
            try image.finish(root: tree.root, data: data, layouts: layouts, newestMtime: tree.newestMtime)
            return ImageSummary(entries: tree.entryCount, inputBytes: tree.regularFileBytes, imageBytes: file.size)
        } catch let invalid as TarHeader.Invalid {
            throw KsqshError(.tarballMalformed, path: source, invalid.reason)
        }
    }
}
