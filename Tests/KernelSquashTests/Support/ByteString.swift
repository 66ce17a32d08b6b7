import Glibc

/// A string of raw bytes: a path or a command-line argument exactly as the
/// kernel sees it. File names on Linux are bytes, not Unicode, and the
/// fixture deliberately contains a name that is not valid UTF-8, so paths in
/// these tests never go through Swift `String`.
struct ByteString: Hashable, Comparable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    var bytes: [UInt8]

    init(_ bytes: [UInt8]) { self.bytes = bytes }
    init<S: Sequence>(bytes: S) where S.Element == UInt8 { self.bytes = Array(bytes) }
    init(_ string: String) { self.bytes = Array(string.utf8) }
    init(stringLiteral value: String) { self.init(value) }

    var isEmpty: Bool { bytes.isEmpty }
    var count: Int { bytes.count }

    /// Orders like `strcmp`: unsigned bytes, shorter prefix first.
    static func < (lhs: ByteString, rhs: ByteString) -> Bool {
        lhs.bytes.lexicographicallyPrecedes(rhs.bytes)
    }

    static func + (lhs: ByteString, rhs: ByteString) -> ByteString { ByteString(lhs.bytes + rhs.bytes) }

    /// Joins two path pieces with exactly one "/" between them.
    static func / (lhs: ByteString, rhs: ByteString) -> ByteString {
        if lhs.isEmpty { return rhs }
        if rhs.isEmpty { return lhs }
        var joined = lhs.bytes
        if joined.last != UInt8(ascii: "/") { joined.append(UInt8(ascii: "/")) }
        joined += rhs.bytes.first == UInt8(ascii: "/") ? Array(rhs.bytes.dropFirst()) : rhs.bytes
        return ByteString(joined)
    }

    /// The last path component.
    var lastComponent: ByteString {
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return self }
        return ByteString(bytes: bytes[(slash + 1)...])
    }

    /// Everything before the last "/", or "." when there is none.
    var parent: ByteString {
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        if slash == 0 { return "/" }
        return ByteString(bytes: bytes[..<slash])
    }

    /// Lossy text for messages and for `String`-based APIs where the bytes are
    /// known to be UTF-8.
    var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Printable form for test output: non-printable and non-ASCII bytes as \xNN.
    var description: String {
        var out = ""
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\\"): out += "\\\\"
            case 0x20..<0x7f: out.append(Character(Unicode.Scalar(byte)))
            case UInt8(ascii: "\n"): out += "\\n"
            case UInt8(ascii: "\t"): out += "\\t"
            default: out += "\\x" + String(byte, radix: 16, uppercase: false).leftPadded(to: 2)
            }
        }
        return out
    }

    /// Calls `body` with a NUL-terminated copy, for syscalls.
    func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var buffer = bytes.map { CChar(bitPattern: $0) }
        buffer.append(0)
        return try buffer.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }

    /// Whether `needle` occurs in these bytes.
    func contains(_ needle: ByteString) -> Bool { bytes.firstIndex(of: needle.bytes) != nil }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

extension Array where Element == UInt8 {
    /// The first index where `needle` starts, searching from `start`.
    func firstIndex(of needle: [UInt8], from start: Int = 0) -> Int? {
        guard !needle.isEmpty, count >= needle.count, start <= count - needle.count else { return nil }
        return withUnsafeBufferPointer { hay in
            needle.withUnsafeBufferPointer { ndl in
                var index = start
                let last = hay.count - ndl.count
                let first = ndl[0]
                while index <= last {
                    // memchr for the first byte, then memcmp the rest.
                    guard let hit = memchr(hay.baseAddress! + index, Int32(first), last - index + 1) else { return nil }
                    let position = hay.baseAddress!.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if memcmp(hay.baseAddress! + position, ndl.baseAddress!, ndl.count) == 0 { return position }
                    index = position + 1
                }
                return nil
            }
        }
    }
}
