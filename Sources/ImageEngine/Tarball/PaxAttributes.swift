import SystemSupport

/// The attributes of a pax extended header ('x' for the next entry, 'g' for
/// all that follow): records of the form "LENGTH KEY=VALUE\n".
struct PaxAttributes {
    var path: [UInt8]?
    var linkPath: [UInt8]?
    var size: UInt64?
    var uid: UInt64?
    var gid: UInt64?
    var mtime: Int64?

    /// Attributes of `later` override these.
    func merged(with later: PaxAttributes) -> PaxAttributes {
        PaxAttributes(
            path: later.path ?? path, linkPath: later.linkPath ?? linkPath, size: later.size ?? size,
            uid: later.uid ?? uid, gid: later.gid ?? gid, mtime: later.mtime ?? mtime
        )
    }

    /// Parses a header's data. Keys ksqsh does not record (atime, uname,
    /// comment, xattrs …) are skipped; sparse files are refused, since
    /// their data would be stored wrongly.
    static func parse(_ data: [UInt8]) throws -> PaxAttributes {
        var attributes = PaxAttributes()
        var rest = data[...]
        while !rest.isEmpty {
            guard let space = rest.firstIndex(of: UInt8(ascii: " ")),
                let length = Int(String(decoding: rest[rest.startIndex..<space], as: UTF8.self)),
                length > space - rest.startIndex + 1, length <= rest.count,
                rest[rest.startIndex + length - 1] == UInt8(ascii: "\n")
            else { throw TarHeader.Invalid(reason: "malformed pax extended header record") }
            let record = rest[(space + 1)..<(rest.startIndex + length - 1)]
            rest = rest[(rest.startIndex + length)...]
            guard let equals = record.firstIndex(of: UInt8(ascii: "=")) else {
                throw TarHeader.Invalid(reason: "pax record without '='")
            }
            let key = String(decoding: record[record.startIndex..<equals], as: UTF8.self)
            let value = Array(record[(equals + 1)...])
            try attributes.apply(key: key, value: value)
        }
        return attributes
    }

    private mutating func apply(key: String, value: [UInt8]) throws {
        let text = String(decoding: value, as: UTF8.self)
        func decimal() throws -> UInt64 {
            guard let number = UInt64(text) else { throw TarHeader.Invalid(reason: "pax \(key) is not a number: '\(text)'") }
            return number
        }
        switch key {
        case "path": path = value
        case "linkpath": linkPath = value
        case "size": size = try decimal()
        case "uid": uid = try decimal()
        case "gid": gid = try decimal()
        case "mtime":
            // Seconds, possibly negative, possibly with a fraction: squashfs keeps whole seconds.
            let whole = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard let seconds = Int64(whole) ?? (whole == "-" ? 0 : nil) else {
                throw TarHeader.Invalid(reason: "pax mtime is not a number: '\(text)'")
            }
            mtime = seconds
        default:
            if key.hasPrefix("GNU.sparse.") {
                throw TarHeader.Invalid(reason: "sparse files in tarballs are not supported")
            }
        }
    }
}
