import SystemSupport

/// Where `DataWriter` reads one regular file's bytes from: a file of a
/// scanned tree (`SourceFileReader`) or the current entry of a tarball
/// stream (`TarEntryContent`).
protocol FileContent: AnyObject {
    /// The file in the tree being built.
    var node: TreeNode { get }
    /// Fills `buffer` with exactly `buffer.count` bytes from `offset`.
    /// `DataWriter` asks for each byte once, at growing offsets, so a stream
    /// can serve it without seeking.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws
    /// Whether `length` bytes at `offset` are a hole: they read as zeros and
    /// need neither reading nor compressing.
    func isHole(at offset: UInt64, length: Int) -> Bool
    /// Throws when the file changed while it was being read.
    func confirmUnchanged() throws
}

/// Where an earlier file tail was packed, and whose it was.
struct StoredTail {
    var fragment: UInt32
    var offset: UInt32
    let source: TreeNode
}

/// Gets an earlier file tail back, so that a hash match is confirmed byte
/// for byte before a tail is stored only once.
protocol TailRecall: AnyObject {
    /// Reads the earlier tail into `buffer` (exactly its size); false when it
    /// cannot be had, which only costs the chance to store it once.
    func recall(_ earlier: StoredTail, into buffer: UnsafeMutableRawBufferPointer) -> Bool
    /// A packed fragment block leaves for compression.
    func fragmentSubmitted(_ block: BlockBuffer, index: UInt32)
    /// A fragment block is in the image now.
    func fragmentWritten(index: UInt32, location: UInt64, sizeWord: UInt32)
}

extension TailRecall {
    func fragmentSubmitted(_ block: BlockBuffer, index: UInt32) {}
    func fragmentWritten(index: UInt32, location: UInt64, sizeWord: UInt32) {}
}

/// A scanned tree still holds every earlier file: read its tail again (if
/// the file changed since, there is simply no match).
final class SourceTailRecall: TailRecall {
    private let tree: SourceTree

    init(_ tree: SourceTree) { self.tree = tree }

    func recall(_ earlier: StoredTail, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard let reader = try? SourceFileReader(earlier.source, in: tree) else { return false }
        return (try? reader.read(into: buffer, at: earlier.source.size - UInt64(buffer.count))) != nil
    }
}
