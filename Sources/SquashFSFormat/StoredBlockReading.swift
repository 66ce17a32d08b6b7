extension SquashFSFile {
    /// Reads one data or fragment block's bytes as the image stores them
    /// into `stored`. `sizeWord` is the block's word from its inode or the
    /// fragment table. Returns the bytes read, or nil when the block cannot
    /// be read or does not fit `stored`.
    package func readStoredBlock(at location: UInt64, sizeWord: UInt32, into stored: UnsafeMutableRawBufferPointer) -> UnsafeRawBufferPointer? {
        let count = BlockSizeWord.storedBytes(sizeWord)
        guard count > 0, count <= stored.count else { return nil }
        let bytes = UnsafeMutableRawBufferPointer(rebasing: stored[0..<count])
        return read(at: location, into: bytes) == 0 ? UnsafeRawBufferPointer(bytes) : nil
    }

    /// Reads one block into `stored` and its content into `content`
    /// (`readStoredBlock`, then `Compressor.decode`); returns the content's length.
    package func readBlock(
        at location: UInt64, sizeWord: UInt32, decompressor: Compressor,
        stored: UnsafeMutableRawBufferPointer, content: UnsafeMutableRawBufferPointer
    ) -> Int? {
        guard let bytes = readStoredBlock(at: location, sizeWord: sizeWord, into: stored) else { return nil }
        return decompressor.decode(storedBlock: bytes, isCompressed: BlockSizeWord.isCompressed(sizeWord), into: content)
    }
}

extension Compressor {
    /// The content of a block stored as `stored`: decompressed by this
    /// (reading) compressor, or copied when the block is stored raw.
    /// Returns its length, or nil when it does not fit `content` or fails to
    /// decompress (xz and zstd check their frames).
    package func decode(storedBlock stored: UnsafeRawBufferPointer, isCompressed: Bool, into content: UnsafeMutableRawBufferPointer) -> Int? {
        guard isCompressed else {
            guard stored.count <= content.count else { return nil }
            UnsafeMutableRawBufferPointer(rebasing: content[0..<stored.count]).copyMemory(from: stored)
            return stored.count
        }
        let produced = process(stored, into: content)
        return produced > 0 ? Int(produced) : nil
    }
}
