import CLZMA

/// What an xz stream, as libsquashfs writes one per block, tells about the
/// bytes it holds without being decompressed: their length (from the
/// stream's index) and their CRC32 (the block's check, which liblzma
/// computes over the uncompressed bytes).
///
/// `squash --reuse` compares these with the new block's when a full verify
/// follows (`BlockReuse`): a CRC32 of a megabyte costs a tenth of a
/// millisecond, decompressing it ten milliseconds, and the verify
/// decompresses every block of the new image anyway.
package struct XZContentCheck: Equatable {
    package let length: Int
    package let crc32: UInt32

    package init(content: UnsafeRawBufferPointer) {
        length = content.count
        crc32 = content.isEmpty ? 0 : lzma_crc32(content.baseAddress!.assumingMemoryBound(to: UInt8.self), content.count, 0)
    }

    private static let headerMagic: [UInt8] = [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]
    private static let footerMagic: [UInt8] = [0x59, 0x5A]
    /// Stream flags: no reserved bits, check type 1 (CRC32).
    private static let crc32Flags: [UInt8] = [0x00, 0x01]
    private static let headerSize = 12
    private static let footerSize = 12

    /// The length and check of a stored stream of exactly one block with a
    /// CRC32 check and an index whose own CRC32 holds; nil for anything
    /// else (another check type, several blocks, damage), which is then
    /// decompressed instead.
    package init?(stream bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        let header = Self.headerSize, footer = Self.footerSize
        guard count >= header + footer + 8,
            bytes.starts(with: Self.headerMagic), Array(bytes[6..<8]) == Self.crc32Flags,
            Array(bytes[(count - 2)...]) == Self.footerMagic, Array(bytes[(count - 4)..<(count - 2)]) == Self.crc32Flags
        else { return nil }
        let indexSize = (Int(Self.littleEndian32(bytes, at: count - 8)) + 1) * 4
        let indexStart = count - footer - indexSize
        guard indexStart > header, bytes[indexStart] == 0 else { return nil }
        // The index's own CRC32 closes it, over everything before.
        let indexCRCAt = indexStart + indexSize - 4
        let indexCRC = lzma_crc32(bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + indexStart, indexSize - 4, 0)
        guard indexCRC == Self.littleEndian32(bytes, at: indexCRCAt) else { return nil }

        var position = indexStart + 1
        guard Self.variableLength(bytes, &position, limit: indexCRCAt) == 1,
            let unpadded = Self.variableLength(bytes, &position, limit: indexCRCAt),
            let uncompressed = Self.variableLength(bytes, &position, limit: indexCRCAt),
            unpadded >= 4, uncompressed <= UInt64(Int.max)
        else { return nil }
        // Block Header, Compressed Data, Block Padding (to 4 bytes), Check;
        // the Unpadded Size counts all but the padding.
        let blockSize = (Int(clamping: unpadded) + 3) & ~3
        guard header + blockSize == indexStart else { return nil }
        length = Int(uncompressed)
        crc32 = Self.littleEndian32(bytes, at: indexStart - 4)
    }

    private static func littleEndian32(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// An xz variable-length integer: 7 bits a byte, low first, at most 9 bytes.
    private static func variableLength(_ bytes: UnsafeRawBufferPointer, _ position: inout Int, limit: Int) -> UInt64? {
        var value: UInt64 = 0
        for shift in stride(from: 0, to: 63, by: 7) {
            guard position < limit else { return nil }
            let byte = bytes[position]
            position += 1
            value |= UInt64(byte & 0x7F) << UInt64(shift)
            if byte & 0x80 == 0 { return value }
        }
        return nil
    }
}
