import Glibc
import SystemPackage
import SquashFSFormat
import SystemSupport

/// The content half of verifying an image made from a tarball: the archive
/// is read a second time, front to back, and every file is compared byte
/// for byte with the image. Entries are matched by their place in the
/// archive (and checked by name), so an archive that changed in between
/// fails the check instead of passing against something else.
struct TarballContentCheck {
    let image: ImageReader
    let tarball: FilePath
    /// The regular files the entry comparison found, by the tree node that owns them.
    let files: [ObjectIdentifier: FileToCheck]
    /// From the first pass: content nodes in archive order, and which tree node owns each.
    let contentNodes: [TreeNode]
    let nodeForContent: [ObjectIdentifier: TreeNode]

    private(set) var bytesChecked: UInt64 = 0
    private var differences = DifferenceList()

    init(image: ImageReader, tarball: FilePath, files: [FileToCheck], contentNodes: [TreeNode], nodeForContent: [ObjectIdentifier: TreeNode]) {
        self.image = image
        self.tarball = tarball
        self.files = Dictionary(files.compactMap { file in file.source.map { (ObjectIdentifier($0), file) } }, uniquingKeysWith: { first, _ in first })
        self.contentNodes = contentNodes
        self.nodeForContent = nodeForContent
    }

    mutating func run(rereading reader: TarReader) throws {
        let data = try image.makeDataReader()
        let blockSize = Int(image.superBlock.block_size)
        let buffers = ChunkBuffers(blockSize: blockSize)
        var position = 0
        while let entry = try reader.next() {
            guard case .node(.regular) = entry.kind else { continue }
            defer { position += 1 }
            let name = String(decoding: entry.path, as: UTF8.self)
            guard position < contentNodes.count, contentNodes[position].name == (try? TarballIndex.normalise(entry.path)),
                contentNodes[position].size == entry.size
            else {
                note(name, "the archive changed since it was squashed")
                break
            }
            // A later entry of the same name replaced this one: not in the image.
            guard let owner = nodeForContent[ObjectIdentifier(contentNodes[position])], let file = files[ObjectIdentifier(owner)] else { continue }
            var offset: UInt64 = 0
            while offset < entry.size {
                let count = Int(min(UInt64(blockSize), entry.size - offset))
                try reader.readContent(into: buffers.sourcePrefix(count))
                if let problem = data.readFully(file.image.inode, at: offset, into: buffers.imagePrefix(count)) {
                    note(file.path, problem)
                    break
                }
                if let difference = buffers.difference(count, at: offset) {
                    note(file.path, difference)
                    break
                }
                offset += UInt64(count)
            }
            bytesChecked += offset
        }
        if position != contentNodes.count && differences.isEmpty {
            note(".", "the archive changed since it was squashed: \(position) files now, \(contentNodes.count) before")
        }
        guard !differences.isEmpty else { return }
        throw KsqshError(.imageDiffers, path: image.path, differences.report("content differs from \(tarball) in \(differences.counted("file"))"))
    }

    private mutating func note(_ path: String, _ what: String) { differences.note(path, what) }
}

extension Verifier {
    /// Verifies an image written from a tarball: every entry against the
    /// tree the archive unpacks to, every byte against a second read of it.
    static func verify(
        image descriptor: FileDescriptor, path: FilePath, against tree: StreamedTree, tarball: FilePath,
        contentNodes: [TreeNode], rereading reader: TarReader, options: VerifyOptions
    ) throws -> VerifyReport {
        let image = try ImageReader(descriptor: descriptor, path: path)
        var comparison = TreeComparison(keepOwner: options.keepOwner)
        comparison.compare(ImageEntry(node: image.root), tree.root)
        try comparison.throwIfDifferent(image: path, source: tarball)
        var contents = TarballContentCheck(
            image: image, tarball: tarball, files: comparison.files, contentNodes: contentNodes, nodeForContent: tree.nodeForContent
        )
        try contents.run(rereading: reader)
        return VerifyReport(entries: comparison.entries, files: comparison.files.count, bytes: contents.bytesChecked)
    }
}
