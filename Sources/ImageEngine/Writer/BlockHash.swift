import SystemSupport

/// A fast 64-bit hash of a byte range, for finding duplicate blocks and file
/// tails. Equal hashes are only candidates: every match is confirmed by
/// comparing the bytes, so this needs speed, not cryptographic strength.
enum BlockHash {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F

    static func hash(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var state = UInt64(bytes.count) &* prime1
        var offset = 0
        let count = bytes.count
        while offset + 8 <= count {
            let word = bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
            state = ((state ^ (word &* prime2)) &<< 31 | (state ^ (word &* prime2)) &>> 33) &* prime1
            offset += 8
        }
        while offset < count {
            state = (state ^ UInt64(bytes[offset])) &* prime1
            offset += 1
        }
        state ^= state &>> 33
        state = state &* prime2
        state ^= state &>> 29
        return state
    }

    static func isZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset + 8 <= bytes.count {
            if bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self) != 0 { return false }
            offset += 8
        }
        return bytes[offset...].allSatisfy { $0 == 0 }
    }
}
