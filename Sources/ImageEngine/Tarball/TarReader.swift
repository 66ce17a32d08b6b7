import SystemPackage
import SystemSupport

/// One entry of a tarball, as it will be recorded in the image.
struct TarEntry {
    enum Kind {
        case node(TreeNode.Kind)
        /// Another name for the entry at `linkTarget`.
        case hardLink
    }

    /// As the archive names it (normalised later).
    var path: [UInt8]
    var kind: Kind
    var permissions: UInt16
    var uid: UInt64
    var gid: UInt64
    var mtime: Int64
    /// Bytes of content: regular files only.
    var size: UInt64
    var linkTarget: [UInt8]
    var device: (major: UInt32, minor: UInt32)
}

/// Reads a tar archive front to back: headers, pax and GNU extension
/// records, and each regular file's content, which must be read (or is
/// skipped) before the next entry.
final class TarReader {
    private let stream: ByteStream
    private let path: FilePath
    private let buffer: UnsafeMutableRawBufferPointer
    private var start = 0
    private var end = 0
    /// Bytes of the archive consumed so far, for error messages.
    private(set) var archiveOffset: UInt64 = 0
    /// Content of the current entry not read yet, and the padding after it.
    private var contentLeft: UInt64 = 0
    private var paddingLeft = 0
    private var global = PaxAttributes()
    /// The name of the current entry, for error messages.
    private var currentName: [UInt8] = []

    /// Extension records this large are not metadata but damage.
    private static let extensionLimit: UInt64 = 16 << 20

    init(_ stream: ByteStream, path: FilePath) {
        self.stream = stream
        self.path = path
        buffer = .allocate(byteCount: 1 << 20, alignment: 64)
    }

    deinit { buffer.deallocate() }

    var fileBytesRead: UInt64 { stream.fileBytesRead }

    /// The next entry, or nil at the end of the archive.
    func next() throws -> TarEntry? {
        try skip(contentLeft + UInt64(paddingLeft))
        contentLeft = 0
        paddingLeft = 0
        var local = PaxAttributes()
        var longName: [UInt8]?
        var longLink: [UInt8]?
        while true {
            let headerOffset = archiveOffset
            guard let header = try readHeader() else { return nil }
            currentName = header.name
            do {
                switch header.typeflag {
                case UInt8(ascii: "x"):
                    local = local.merged(with: try PaxAttributes.parse(try readExtension(header)))
                    continue
                case UInt8(ascii: "g"):
                    global = global.merged(with: try PaxAttributes.parse(try readExtension(header)))
                    continue
                case UInt8(ascii: "L"):
                    longName = Array(try readExtension(header).prefix { $0 != 0 })
                    continue
                case UInt8(ascii: "K"):
                    longLink = Array(try readExtension(header).prefix { $0 != 0 })
                    continue
                case UInt8(ascii: "V"):  // a GNU volume label names no file
                    try skip(Self.padded(header.size))
                    continue
                default:
                    break
                }
                let attributes = global.merged(with: local)
                var entry = try makeEntry(header, attributes: attributes)
                entry.path = attributes.path ?? longName ?? header.name
                entry.linkTarget = attributes.linkPath ?? longLink ?? header.linkName
                currentName = entry.path
                let hasData: Bool = {
                    if case .node(let kind) = entry.kind { return ![.characterDevice, .blockDevice, .fifo].contains(kind) }
                    return true
                }()
                let dataSize = hasData ? (attributes.size ?? header.size) : 0
                if case .node(.regular) = entry.kind { entry.size = dataSize }
                contentLeft = dataSize
                paddingLeft = Int(Self.padded(dataSize) - dataSize)
                if case .node(.regular) = entry.kind {} else {
                    // Directories and links carry no content ksqsh records.
                    try skip(contentLeft + UInt64(paddingLeft))
                    contentLeft = 0
                    paddingLeft = 0
                }
                return entry
            } catch let invalid as TarHeader.Invalid {
                throw malformed("\(invalid.reason) in the header at byte \(headerOffset)")
            }
        }
    }

    /// Reads exactly `destination.count` bytes of the current entry's content.
    func readContent(into destination: UnsafeMutableRawBufferPointer) throws {
        guard UInt64(destination.count) <= contentLeft else {
            throw KsqshError(.internalError, path: path, "read past the end of \(displayName)")
        }
        try readExactly(into: destination)
        contentLeft -= UInt64(destination.count)
    }

    private var displayName: String { String(decoding: currentName, as: UTF8.self) }

    private func makeEntry(_ header: TarHeader, attributes: PaxAttributes) throws -> TarEntry {
        let kind: TarEntry.Kind
        switch header.typeflag {
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
            // Pre-POSIX tars mark directories only by a trailing slash.
            kind = header.name.last == UInt8(ascii: "/") && attributes.path == nil ? .node(.directory) : .node(.regular)
        case UInt8(ascii: "1"): kind = .hardLink
        case UInt8(ascii: "2"): kind = .node(.symlink)
        case UInt8(ascii: "3"): kind = .node(.characterDevice)
        case UInt8(ascii: "4"): kind = .node(.blockDevice)
        case UInt8(ascii: "5"), UInt8(ascii: "D"): kind = .node(.directory)
        case UInt8(ascii: "6"): kind = .node(.fifo)
        case UInt8(ascii: "S"): throw TarHeader.Invalid(reason: "sparse files in tarballs are not supported")
        case UInt8(ascii: "M"): throw TarHeader.Invalid(reason: "multi-volume tarballs are not supported")
        default:
            let flag = String(decoding: [header.typeflag], as: UTF8.self)
            throw TarHeader.Invalid(reason: "unknown entry type '\(flag)' for \(String(decoding: header.name, as: UTF8.self))")
        }
        return TarEntry(
            path: header.name, kind: kind, permissions: UInt16(header.mode & 0o7777),
            uid: attributes.uid ?? header.uid, gid: attributes.gid ?? header.gid, mtime: attributes.mtime ?? header.mtime,
            size: 0, linkTarget: header.linkName, device: (header.deviceMajor, header.deviceMinor)
        )
    }

    /// The next header block; nil at the end-of-archive marker (a zero
    /// block). An archive that simply stops lost its end: it is refused, so a
    /// truncated download never passes for a smaller tree.
    private func readHeader() throws -> TarHeader? {
        var block = [UInt8](repeating: 0, count: TarHeader.size)
        let got = try block.withUnsafeMutableBytes { try readUpTo($0) }
        guard got == TarHeader.size else {
            if archiveOffset == UInt64(got) { throw malformed("not a tar archive (shorter than one header)") }
            throw malformed("the archive is truncated: it ends at byte \(archiveOffset) without its end-of-archive marker")
        }
        do {
            return try block.withUnsafeBytes { try TarHeader.decode($0) }
        } catch let invalid as TarHeader.Invalid {
            let what = archiveOffset == UInt64(TarHeader.size) ? "not a tar archive (\(invalid.reason))" : invalid.reason
            throw malformed("\(what) at byte \(archiveOffset - UInt64(TarHeader.size))")
        }
    }

    /// The data of an extension record (pax header, GNU long name), whole.
    private func readExtension(_ header: TarHeader) throws -> [UInt8] {
        guard header.size <= Self.extensionLimit else {
            throw TarHeader.Invalid(reason: "an extension record of \(header.size) bytes")
        }
        var data = [UInt8](repeating: 0, count: Int(header.size))
        try data.withUnsafeMutableBytes { try readExactly(into: $0) }
        try skip(Self.padded(header.size) - header.size)
        return data
    }

    private static func padded(_ size: UInt64) -> UInt64 {
        (size + UInt64(TarHeader.size) - 1) / UInt64(TarHeader.size) * UInt64(TarHeader.size)
    }

    private func readExactly(into destination: UnsafeMutableRawBufferPointer) throws {
        guard try readUpTo(destination) == destination.count else {
            throw malformed("the archive ends in the middle of \(displayName)")
        }
    }

    /// Fills `destination` unless the stream ends first; returns the bytes read.
    /// Large reads bypass the buffer: the decompressor writes straight into
    /// the block being filled.
    private func readUpTo(_ destination: UnsafeMutableRawBufferPointer) throws -> Int {
        var done = 0
        while done < destination.count {
            if start == end {
                if destination.count - done >= buffer.count / 2 {
                    let got = try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: destination[done...]))
                    if got == 0 { break }
                    done += got
                    archiveOffset += UInt64(got)
                    continue
                }
                start = 0
                end = try stream.read(into: buffer)
                if end == 0 { break }
            }
            let count = min(end - start, destination.count - done)
            (destination.baseAddress! + done).copyMemory(from: buffer.baseAddress! + start, byteCount: count)
            start += count
            done += count
            archiveOffset += UInt64(count)
        }
        return done
    }

    private func skip(_ count: UInt64) throws {
        var left = count
        while left > 0 {
            if start == end {
                start = 0
                end = try stream.read(into: buffer)
                if end == 0 { throw malformed("the archive ends in the middle of \(displayName)") }
            }
            let step = min(UInt64(end - start), left)
            start += Int(step)
            left -= step
            archiveOffset += step
        }
    }

    private func malformed(_ reason: String) -> KsqshError {
        KsqshError(.tarballMalformed, path: path, reason)
    }
}
