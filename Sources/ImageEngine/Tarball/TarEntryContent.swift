import SystemSupport

/// The content of the tarball entry being read, served to `DataWriter`
/// straight from the decompressed stream.
final class TarEntryContent: FileContent {
    let node: TreeNode
    private let reader: TarReader
    private var position: UInt64 = 0
    /// A copy of every byte read, when asked for (the stream is read once).
    private(set) var kept: [UInt8]?

    init(_ node: TreeNode, reader: TarReader, keepingBytes: Bool = false) {
        self.node = node
        self.reader = reader
        kept = keepingBytes ? [] : nil
    }

    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        guard offset == position else {
            throw KsqshError(.internalError, "a tarball entry was read out of order (at \(offset), expected \(position))")
        }
        try reader.readContent(into: buffer)
        position += UInt64(buffer.count)
        kept?.append(contentsOf: buffer)
    }

    /// A tarball has no holes ksqsh can see (sparse entries are refused):
    /// zero blocks are still found and stored as sparse by the pipeline.
    func isHole(at offset: UInt64, length: Int) -> Bool { false }

    /// A stream read once cannot change under the reader.
    func confirmUnchanged() throws {}
}
