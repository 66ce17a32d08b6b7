import SystemSupport

/// Where a regular file's data ended up in the image.
struct FileLayout {
    var blocksStart: UInt64 = 0
    /// One size word per full block (bit 24: stored uncompressed; 0: sparse).
    var blockSizes: [UInt32]
    var sparseBytes: UInt64 = 0
    var fragment: (index: UInt32, offset: UInt32)?

    init(blockCount: Int) {
        blockSizes = Array(repeating: 0, count: blockCount)
    }
}
