/// The 96-byte squashfs 4.0 super block, decoded by hand (little-endian), so
/// tests can check and corrupt images without any squashfs library.
struct SuperBlock: Sendable {
    static let size = 96
    static let magic: UInt32 = 0x7371_7368 // "hsqs"

    let magic: UInt32
    let inodeCount: UInt32
    let modificationTime: UInt32
    let blockSize: UInt32
    let fragmentCount: UInt32
    let compressionID: UInt16
    let blockLog: UInt16
    let flags: UInt16
    let idCount: UInt16
    let versionMajor: UInt16
    let versionMinor: UInt16
    let rootInodeReference: UInt64
    let bytesUsed: UInt64
    let idTableStart: UInt64
    let xattrIDTableStart: UInt64
    let inodeTableStart: UInt64
    let directoryTableStart: UInt64
    let fragmentTableStart: UInt64
    let exportTableStart: UInt64

    // Byte offsets of the fields tests patch.
    static let bytesUsedOffset = 40
    static let inodeTableStartOffset = 64
    static let directoryTableStartOffset = 72

    init(_ image: [UInt8]) throws {
        guard image.count >= Self.size else { throw TestSetupError("image is \(image.count) bytes, shorter than a super block") }
        magic = Self.u32(image, 0)
        inodeCount = Self.u32(image, 4)
        modificationTime = Self.u32(image, 8)
        blockSize = Self.u32(image, 12)
        fragmentCount = Self.u32(image, 16)
        compressionID = Self.u16(image, 20)
        blockLog = Self.u16(image, 22)
        flags = Self.u16(image, 24)
        idCount = Self.u16(image, 26)
        versionMajor = Self.u16(image, 28)
        versionMinor = Self.u16(image, 30)
        rootInodeReference = Self.u64(image, 32)
        bytesUsed = Self.u64(image, 40)
        idTableStart = Self.u64(image, 48)
        xattrIDTableStart = Self.u64(image, 56)
        inodeTableStart = Self.u64(image, 64)
        directoryTableStart = Self.u64(image, 72)
        fragmentTableStart = Self.u64(image, 80)
        exportTableStart = Self.u64(image, 88)
    }

    init(file: ByteString) throws { try self.init(FS.readFile(file)) }

    static func u16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
        UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8
    }

    static func u32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }

    static func u64(_ bytes: [UInt8], _ offset: Int) -> UInt64 {
        (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) }
    }

    static func store(_ value: UInt64, into bytes: inout [UInt8], at offset: Int) {
        for index in 0..<8 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    /// squashfs compressor ids.
    static let compressionNames: [UInt16: String] = [1: "gzip", 2: "lzma", 3: "lzo", 4: "xz", 5: "lz4", 6: "zstd"]
}

/// A metadata block's two-byte header: bit 15 set means stored uncompressed.
struct MetadataBlockHeader {
    let compressed: Bool
    let size: Int

    init(_ image: [UInt8], at offset: Int) {
        let raw = SuperBlock.u16(image, offset)
        compressed = raw & 0x8000 == 0
        size = Int(raw & 0x7fff)
    }
}
