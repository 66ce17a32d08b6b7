extension SquashFSFile {
    /// Reads one data or fragment block as the image stores it into
    /// `stored`, and its content into `content`: decompressed, or copied
    /// when the block is stored raw. `sizeWord` is the block's word from its
    /// inode or the fragment table. Returns the content's length, or nil
    /// when the block cannot be read, does not fit the buffers, or fails to
    /// decompress (xz and zstd check their frames).
    package func readBlock(
        at location: UInt64, sizeWord: UInt32, decompressor: Compressor,
        stored: UnsafeMutableRawBufferPointer, content: UnsafeMutableRawBufferPointer
    ) -> Int? {
        let count = BlockSizeWord.storedBytes(sizeWord)
        guard count > 0, count <= stored.count, count <= content.count else { return nil }
        let bytes = UnsafeMutableRawBufferPointer(rebasing: stored[0..<count])
        guard read(at: location, into: bytes) == 0 else { return nil }
        guard BlockSizeWord.isCompressed(sizeWord) else {
            content.copyMemory(from: UnsafeRawBufferPointer(bytes))
            return count
        }
        let produced = decompressor.process(UnsafeRawBufferPointer(bytes), into: content)
        return produced > 0 ? Int(produced) : nil
    }
}
