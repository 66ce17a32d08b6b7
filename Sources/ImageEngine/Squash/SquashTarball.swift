import Glibc
import SquashFSFormat
import SystemPackage
import SystemSupport

/// `ksqsh squash TARBALL IMAGE`: the archive is decompressed and read once,
/// front to back, straight into the image; not one file is unpacked to
/// disk (on flash, 90,000 temporary inodes are the problem).
extension Squash {
    func runFromTarball(startedAt start: Double) throws -> Result {
        if deleteSource {
            throw KsqshError(.sourceNotDirectory, path: source, "--delete-source empties a directory; a tarball is never deleted")
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
        let tarballBytes = UInt64(max((try? descriptor.stat())?.size ?? 0, 0))
        let reader = TarReader(try TarballStream.open(descriptor, path: source), path: source)

        let output = try AtomicImageFile(creating: image, force: force)
        let file = try SquashFSFile(descriptor: output.descriptor, writable: true, path: image)
        var written = try withImagePath { try write(from: reader, to: file, tarballBytes: tarballBytes) }

        var report: VerifyReport?
        if verify {
            // A second read of the archive: nothing of it was kept, by design.
            _ = try? descriptor.seek(offset: 0, from: .start)
            let again = TarReader(try TarballStream.open(descriptor, path: source), path: source)
            var verifyOptions = VerifyOptions()
            verifyOptions.keepOwner = options.keepOwner
            report = try Verifier.verify(
                image: output.descriptor, path: image, against: written.tree, tarball: source,
                contentNodes: written.contentNodes, rereading: again, options: verifyOptions
            )
        }
        try output.commit()
        written.summary.imageBytes = UInt64(file.size)
        return Result(summary: written.summary, verified: report, seconds: MonotonicClock.now() - start)
    }

    private struct Written {
        var summary: ImageSummary
        var tree: StreamedTree
        var contentNodes: [TreeNode]
    }

    /// Where the tables put the files below `root`: for the kernel layout,
    /// as `ksqsh squash` of the unpacked tree does (`KernelReadOrder` on the
    /// same reference lines, kept as the files streamed by and keyed by
    /// their content nodes), so both images list alike; else tree order.
    /// Only the inode order and raw listings are used: the data is stored.
    private static func placement(of tree: StreamedTree, layout: DataLayout, referenceLines: [ObjectIdentifier: [UInt8]]) -> DataPlacement {
        let files = tree.root.regularFilesOwningData
        guard layout == .kernel else { return DataPlacement(order: files) }
        let lines = tree.keyedByNode(referenceLines)
        return KernelReadOrder.placement(files) { lines[ObjectIdentifier(files[$0])] }
    }

    private func write(from reader: TarReader, to file: SquashFSFile, tarballBytes: UInt64) throws -> Written {
        // A tarball's contents are known only as they stream by, so the
        // kernel rules apply unless --layout plain: on other trees they only
        // group files named like Kconfig*, Makefile*, Kbuild* and those below
        // scripts/, include/ and tools/.
        let layout = options.layout ?? .kernel
        let lanes = layout == .kernel ? KernelReadOrder.Group.allCases.count : 1
        let image = try ImageWriter(file: file, options: options)
        let recall = try ImageTailRecall(file: file, options: options, keep: 2 * options.jobs + 2 * lanes + 2)
        let reuse = try image.openReuseImages()
        let data = try DataWriter(file: file, options: options, lanes: lanes, recall: recall, reuse: reuse, progress: nil)
        let index = TarballIndex()
        let progress = Progress.make(label: "squash", files: 0, bytes: tarballBytes, quiet: quiet)
        defer { progress?.finish() }

        var consumed: UInt64 = 0
        // Each file's #include and source lines, for the layout (~20 MB for a kernel).
        var referenceLines: [ObjectIdentifier: [UInt8]] = [:]
        // The small files of the groups a build reads first (~70 MB for a
        // kernel), stored once the archive has ended in the order and
        // fragment blocks the unpacked tree's layout gives them: stored in
        // archive order, a cold build from the image decompresses many times
        // the fragments (README, "Performance").
        var held: [ObjectIdentifier: HeldContent] = [:]
        do {
            while let entry = try reader.next() {
                if let (node, layoutPath) = try index.add(entry) {
                    let group = layout == .kernel ? KernelReadOrder.group(of: layoutPath) : nil
                    if let group, group.isReadFirst, node.size < options.blockSize {
                        let content = try HeldContent(node, reader: reader)
                        referenceLines[ObjectIdentifier(node)] = KernelReadOrder.referenceLines(in: content.bytes)
                        held[ObjectIdentifier(node)] = content
                    } else {
                        let keep = group != nil && node.size <= ReferenceGraph.largestParsed
                        let content = TarEntryContent(node, reader: reader, keepingBytes: keep)
                        try data.store(node, lane: group?.rawValue ?? 0, path: layoutPath) { content }
                        if let bytes = content.kept, bytes.count == node.size {
                            referenceLines[ObjectIdentifier(node)] = KernelReadOrder.referenceLines(in: bytes)
                        }
                    }
                }
                progress?.advance(files: 1, bytes: reader.fileBytesRead - consumed)
                consumed = reader.fileBytesRead
            }
            let tree = try index.buildTree()
            let placement = Self.placement(of: tree, layout: layout, referenceLines: referenceLines)
            try Self.store(held, as: placement, of: tree, into: data)
            try data.finish()
            try image.finish(
                root: tree.root, data: data, layouts: tree.keyedByNode(data.layouts), placement: placement, newestMtime: tree.newestMtime)
            let summary = ImageSummary(
                entries: tree.entryCount, inputBytes: tree.regularFileBytes, imageBytes: file.size, reuse: reuse?.report)
            return Written(summary: summary, tree: tree, contentNodes: index.contentNodes)
        } catch let invalid as TarHeader.Invalid {
            throw KsqshError(.tarballMalformed, path: source, invalid.reason)
        }
    }

    /// Stores the held files in `placement`'s order of their nodes in
    /// `tree`, in small fragment blocks where it says. Content a later
    /// entry of the same name replaced is not in the tree, and not stored.
    private static func store(_ held: [ObjectIdentifier: HeldContent], as placement: DataPlacement, of tree: StreamedTree, into data: DataWriter) throws {
        let contentOf = tree.keyedByNode(held)
        for node in placement.order {
            guard let content = contentOf[ObjectIdentifier(node)] else { continue }
            let path = node.relativePath
            try data.store(
                content.node, lane: KernelReadOrder.group(of: path).rawValue, fragmentBytes: placement.fragmentBytes(for: node), path: path
            ) { content }
        }
    }
}
