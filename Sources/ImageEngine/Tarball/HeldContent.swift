import SystemSupport

/// The content of a tarball entry read into memory while the archive
/// streamed by, served to `DataWriter` once its place in the layout is known.
final class HeldContent: FileContent {
    let node: TreeNode
    let bytes: [UInt8]

    /// Reads the rest of the entry `reader` is at: `node.size` bytes.
    init(_ node: TreeNode, reader: TarReader) throws {
        self.node = node
        var bytes = [UInt8](repeating: 0, count: Int(node.size))
        try bytes.withUnsafeMutableBytes { try reader.readContent(into: $0) }
        self.bytes = bytes
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        let start = Int(offset)
        guard start + buffer.count <= bytes.count else {
            throw KsqshError(.internalError, "read past the end of a held tarball entry (\(start + buffer.count) of \(bytes.count) bytes)")
        }
        bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<start + buffer.count])) }
    }

    /// Sparse entries are refused; zero blocks are found by the pipeline.
    func isHole(at offset: UInt64, length: Int) -> Bool { false }

    /// Held bytes cannot change.
    func confirmUnchanged() throws {}
}
