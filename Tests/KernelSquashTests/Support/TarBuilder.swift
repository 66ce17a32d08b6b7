/// Writes tar archives byte by byte, for the cases GNU tar will not make:
/// hostile names, dangling hard links, unknown entry types, pax records.
struct TarBuilder {
    private(set) var bytes: [UInt8] = []

    /// Appends one ustar header and its padded data.
    mutating func entry(
        _ name: String, type: Character = "0", data: [UInt8] = [], mode: Int = 0o644, linkName: String = "", mtime: Int = 1_600_000_000
    ) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ offset: Int, _ field: [UInt8]) { header.replaceSubrange(offset..<offset + field.count, with: field) }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: width - 1 - digits.count) + digits).utf8) + [0]
        }
        put(0, Array(name.utf8.prefix(100)))
        put(100, octal(mode, width: 8))
        put(108, octal(0, width: 8))
        put(116, octal(0, width: 8))
        put(124, octal(data.count, width: 12))
        put(136, octal(mtime, width: 12))
        put(148, Array("        ".utf8))
        header[156] = type.asciiValue!
        put(157, Array(linkName.utf8.prefix(100)))
        put(257, Array("ustar\u{0}00".utf8))
        let sum = header.reduce(0) { $0 + Int($1) }
        put(148, Array(String(format: "%06o", sum).utf8) + [0, UInt8(ascii: " ")])
        bytes += header + data + [UInt8](repeating: 0, count: (512 - data.count % 512) % 512)
    }

    /// Appends a pax extended header ('x') carrying `records` for the next entry.
    mutating func pax(_ records: [(String, String)]) {
        var data: [UInt8] = []
        for (key, value) in records {
            let body = " \(key)=\(value)\n"
            // The length counts its own digits.
            var length = body.utf8.count + 1
            while String(length).count + body.utf8.count > length { length += 1 }
            data += Array("\(length)\(body)".utf8)
        }
        entry("PaxHeader", type: "x", data: data)
    }

    /// The end-of-archive marker: two zero blocks.
    mutating func end() { bytes += [UInt8](repeating: 0, count: 1024) }
}
