import SystemSupport

/// One 512-byte tar header block, decoded: ustar (POSIX.1-1988) and the GNU
/// variant, whose numbers may be base-256 and whose prefix field means
/// something else.
struct TarHeader {
    static let size = 512

    var name: [UInt8]
    var mode: UInt32
    var uid: UInt64
    var gid: UInt64
    var size: UInt64
    var mtime: Int64
    var typeflag: UInt8
    var linkName: [UInt8]
    var deviceMajor: UInt32
    var deviceMinor: UInt32

    /// Why a block is not a header; the reader adds where it was.
    struct Invalid: Error {
        let reason: String
    }

    /// Decodes `block` (512 bytes); nil for an all-zero block (the end of the archive).
    static func decode(_ block: UnsafeRawBufferPointer) throws -> TarHeader? {
        precondition(block.count == size)
        if BlockHash.isZero(block) { return nil }
        try verifyChecksum(block)

        let magic = Array(block[257..<263])
        let isPOSIX = magic == Array("ustar\0".utf8)
        let isGNU = magic == Array("ustar ".utf8)
        var name = cString(block[0..<100])
        if isPOSIX {
            let prefix = cString(block[345..<500])
            if !prefix.isEmpty { name = prefix + [UInt8(ascii: "/")] + name }
        }
        let hasDevices = isPOSIX || isGNU
        return TarHeader(
            name: name,
            mode: UInt32(truncatingIfNeeded: try number(block[100..<108], "mode")),
            uid: UInt64(try number(block[108..<116], "uid")),
            gid: UInt64(try number(block[116..<124], "gid")),
            size: UInt64(try number(block[124..<136], "size")),
            mtime: try signedNumber(block[136..<148], "mtime"),
            typeflag: block[156],
            linkName: cString(block[157..<257]),
            deviceMajor: hasDevices ? UInt32(truncatingIfNeeded: try number(block[329..<337], "devmajor")) : 0,
            deviceMinor: hasDevices ? UInt32(truncatingIfNeeded: try number(block[337..<345], "devminor")) : 0
        )
    }

    /// The sum of all bytes with the checksum field read as spaces. Some old
    /// tars summed signed chars, so either sum is accepted.
    private static func verifyChecksum(_ block: UnsafeRawBufferPointer) throws {
        let stored = try number(block[148..<156], "checksum")
        var unsigned = 0
        var signed = 0
        for (offset, byte) in block.enumerated() {
            let value = (148..<156).contains(offset) ? UInt8(ascii: " ") : byte
            unsigned += Int(value)
            signed += Int(Int8(bitPattern: value))
        }
        guard stored == unsigned || stored == signed else {
            throw Invalid(reason: "header checksum mismatch")
        }
    }

    /// The bytes up to the first NUL.
    private static func cString(_ field: Slice<UnsafeRawBufferPointer>) -> [UInt8] {
        Array(field.prefix { $0 != 0 })
    }

    /// A non-negative number field.
    private static func number(_ field: Slice<UnsafeRawBufferPointer>, _ what: String) throws -> Int {
        let value = try signedNumber(field, what)
        guard value >= 0, value <= Int64(Int.max) else { throw Invalid(reason: "negative or huge \(what)") }
        return Int(value)
    }

    /// Octal digits, padded with spaces or NULs; or, with the first byte's
    /// high bit set, a big-endian two's-complement number (GNU base-256).
    private static func signedNumber(_ field: Slice<UnsafeRawBufferPointer>, _ what: String) throws -> Int64 {
        guard let first = field.first else { return 0 }
        if first & 0x80 != 0 {
            // Base-256: the marker bit is dropped for positive numbers; a
            // negative one is all two's complement (first byte 0xFF).
            let negative = first & 0x40 != 0
            var value: Int64 = negative ? -1 : 0
            for (index, byte) in field.enumerated() {
                guard value >> 55 == (negative ? -1 : 0) else { throw Invalid(reason: "\(what) out of range") }
                value = value << 8 | Int64(index == 0 && !negative ? byte & 0x7F : byte)
            }
            return value
        }
        var value: Int64 = 0
        var seenDigit = false
        for byte in field {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                let (shifted, overflow) = value.multipliedReportingOverflow(by: 8)
                guard !overflow else { throw Invalid(reason: "\(what) out of range") }
                value = shifted + Int64(byte - UInt8(ascii: "0"))
                seenDigit = true
            case UInt8(ascii: " "), 0:
                if seenDigit { return value }
            default:
                throw Invalid(reason: "\(what) is not an octal number")
            }
        }
        return value
    }
}
