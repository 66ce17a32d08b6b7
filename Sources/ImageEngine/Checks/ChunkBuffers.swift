import Glibc

/// Two buffers of one data block each: the image's bytes and the source's
/// (a tree's file or a tarball's entry), compared a block at a time.
final class ChunkBuffers {
    let image: UnsafeMutableRawBufferPointer
    let source: UnsafeMutableRawBufferPointer

    init(blockSize: Int) {
        image = .allocate(byteCount: blockSize, alignment: 64)
        source = .allocate(byteCount: blockSize, alignment: 64)
    }

    deinit {
        image.deallocate()
        source.deallocate()
    }

    /// The first `count` bytes of the image's buffer.
    func imagePrefix(_ count: Int) -> UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: image[0..<count]) }
    /// The first `count` bytes of the source's buffer.
    func sourcePrefix(_ count: Int) -> UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(rebasing: source[0..<count]) }

    /// nil when the first `count` bytes agree, else the difference to note
    /// for the chunk at `offset`.
    func difference(_ count: Int, at offset: UInt64) -> String? {
        memcmp(image.baseAddress!, source.baseAddress!, count) == 0 ? nil : "content differs in bytes \(offset)–\(offset + UInt64(count) - 1)"
    }
}
