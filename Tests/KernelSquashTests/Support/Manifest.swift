import Glibc

/// What one directory entry is, as `lstat` reports it.
enum EntryType: String, Sendable {
    case file, directory, symlink, fifo, socket, characterDevice, blockDevice

    init(mode: mode_t) {
        switch mode & mode_t(S_IFMT) {
        case mode_t(S_IFDIR): self = .directory
        case mode_t(S_IFLNK): self = .symlink
        case mode_t(S_IFIFO): self = .fifo
        case mode_t(S_IFSOCK): self = .socket
        case mode_t(S_IFCHR): self = .characterDevice
        case mode_t(S_IFBLK): self = .blockDevice
        default: self = .file
        }
    }
}

/// One entry of a tree, with everything a squashfs image must preserve.
struct ManifestEntry: Equatable, Sendable {
    /// Relative to the tree's root; "." is the root itself.
    var path: ByteString
    var type: EntryType
    /// Permission bits including setuid, setgid and sticky (mode & 07777).
    var permissions: UInt32
    var uid: UInt32
    var gid: UInt32
    /// Bytes, for regular files and symlinks; 0 for everything else.
    var size: Int64
    var mtime: Int
    var symlinkTarget: ByteString?
    /// Hash of the whole content, regular files only.
    var contentHash: UInt64?
    /// For regular files with more than one link: the byte-wise smallest
    /// relative path sharing the inode. Names the hard-link group.
    var linkGroup: ByteString?
    /// Device numbers, device nodes only.
    var deviceMajor: UInt32?
    var deviceMinor: UInt32?
    /// 512-byte blocks allocated (not compared; tells sparse files apart).
    var allocatedBlocks: Int64 = 0

    static func == (lhs: ManifestEntry, rhs: ManifestEntry) -> Bool {
        lhs.differences(from: rhs, options: .exact).isEmpty
    }

    /// Field-by-field differences between `self` (as found) and `expected`.
    func differences(from expected: ManifestEntry, options: Manifest.Comparison) -> [String] {
        var found: [String] = []
        func check<T: Equatable>(_ name: String, _ mine: T, _ theirs: T, _ show: (T) -> String) {
            if mine != theirs { found.append("\(name) is \(show(mine)), expected \(show(theirs))") }
        }
        check("type", type, expected.type) { $0.rawValue }
        guard type == expected.type else { return found }
        check("mode", permissions, expected.permissions) { "0" + String($0, radix: 8) }
        switch options.ownership {
        case .same:
            check("uid", uid, expected.uid) { "\($0)" }
            check("gid", gid, expected.gid) { "\($0)" }
        case .root:
            check("uid", uid, 0) { "\($0)" }
            check("gid", gid, 0) { "\($0)" }
        case .ignore: break
        }
        if type == .symlink ? options.symlinkTimes : true {
            check("mtime", mtime, expected.mtime) { "\($0)" }
        }
        if type == .file || type == .symlink { check("size", size, expected.size) { "\($0)" } }
        check("symlink target", symlinkTarget, expected.symlinkTarget) { $0.map(\.description) ?? "none" }
        check("content hash", contentHash, expected.contentHash) { $0.map { String($0, radix: 16) } ?? "none" }
        if options.linkGroups {
            check("hard-link group", linkGroup, expected.linkGroup) { $0.map(\.description) ?? "none" }
        }
        check("device major", deviceMajor, expected.deviceMajor) { $0.map { "\($0)" } ?? "none" }
        check("device minor", deviceMinor, expected.deviceMinor) { $0.map { "\($0)" } ?? "none" }
        return found
    }
}

/// Every entry of a directory tree, walked with `lstat` on raw byte paths.
struct Manifest: Equatable, Sendable {
    var entries: [ByteString: ManifestEntry]

    var root: ManifestEntry? { entries["."] }
    var paths: [ByteString] { entries.keys.sorted() }
    subscript(_ path: ByteString) -> ManifestEntry? { entries[path] }

    /// How a tree read back from an image is compared with its source.
    struct Comparison: Sendable {
        enum Ownership: Sendable {
            /// Every entry must be owned by uid/gid 0 (ksqsh's default).
            case root
            /// Ownership must equal the source's (`--keep-owner`).
            case same
            case ignore
        }

        var ownership: Ownership = .root
        /// Compare the root directory's mode and mtime.
        var root = true
        /// Compare hard-link groups (needs a reader that recreates hard links).
        var linkGroups = true
        /// Compare symlink mtimes.
        var symlinkTimes = true

        static let exact = Comparison(ownership: .same)
    }

    /// Walks `root`; never follows symlinks.
    static func scan(_ root: ByteString) throws -> Manifest {
        var entries: [ByteString: ManifestEntry] = [:]
        var inodes: [InodeKey: [ByteString]] = [:]
        try walk(root, relative: ".", into: &entries, inodes: &inodes)
        for (_, paths) in inodes {
            let group = paths.min()!
            for path in paths { entries[path]?.linkGroup = group }
        }
        return Manifest(entries: entries)
    }

    private struct InodeKey: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    private static func walk(
        _ absolute: ByteString, relative: ByteString,
        into entries: inout [ByteString: ManifestEntry], inodes: inout [InodeKey: [ByteString]]
    ) throws {
        let st = try FS.lstat(absolute)
        let type = EntryType(mode: st.st_mode)
        var entry = ManifestEntry(
            path: relative, type: type, permissions: UInt32(st.st_mode & 0o7777),
            uid: st.st_uid, gid: st.st_gid, size: 0, mtime: st.st_mtim.tv_sec,
            allocatedBlocks: Int64(st.st_blocks)
        )
        switch type {
        case .file:
            entry.size = Int64(st.st_size)
            entry.contentHash = try ContentHash.ofFile(absolute)
            if st.st_nlink > 1 { inodes[InodeKey(device: UInt64(st.st_dev), inode: UInt64(st.st_ino)), default: []].append(relative) }
        case .symlink:
            entry.size = Int64(st.st_size)
            entry.symlinkTarget = try FS.readlink(absolute)
        case .characterDevice, .blockDevice:
            let rdev = UInt64(st.st_rdev)
            entry.deviceMajor = UInt32(((rdev >> 8) & 0xfff) | ((rdev >> 32) & ~0xfff))
            entry.deviceMinor = UInt32((rdev & 0xff) | ((rdev >> 12) & ~0xff))
        case .directory:
            for name in try FS.list(absolute) {
                try walk(absolute / name, relative: relative == "." ? name : relative / name, into: &entries, inodes: &inodes)
            }
        case .fifo, .socket:
            break
        }
        entries[relative] = entry
    }

    /// What differs between `actual` (read back from an image) and `expected`
    /// (the source), one line per difference, at most `limit` lines.
    static func differences(actual: Manifest, expected: Manifest, _ options: Comparison, limit: Int = 60) -> [String] {
        var lines: [String] = []
        for path in expected.paths where actual.entries[path] == nil { lines.append("missing: \(path)") }
        for path in actual.paths where expected.entries[path] == nil { lines.append("unexpected: \(path)") }
        for path in expected.paths {
            guard let mine = actual.entries[path], let theirs = expected.entries[path] else { continue }
            if path == ".", !options.root { continue }
            for difference in mine.differences(from: theirs, options: options) { lines.append("\(path): \(difference)") }
        }
        if lines.count > limit { lines = Array(lines.prefix(limit)) + ["… and \(lines.count - limit) more"] }
        return lines
    }
}

/// A 64-bit hash of a file's logical content, holes read as zeros.
///
/// Not cryptographic; every step is a bijection of the running state, so two
/// contents of the same length that differ in one 8-byte word always hash
/// differently. Reads 1 MiB chunks at fixed offsets; all-zero chunks (holes)
/// are folded in with one step, which keeps 64 MiB sparse files cheap.
enum ContentHash {
    private static let chunkSize = 1 << 20
    private static let zeros = [UInt8](repeating: 0, count: 1 << 20)

    static func ofFile(_ path: ByteString) throws -> UInt64 {
        let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK) }
        guard fd >= 0 else { throw TestSetupError.syscall("open", path) }
        defer { close(fd) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 8)
        defer { buffer.deallocate() }
        var state: UInt64 = 0xcbf2_9ce4_8422_2325
        var offset = 0
        while true {
            var filled = 0
            while filled < chunkSize {
                let n = pread(fd, buffer + filled, chunkSize - filled, off_t(offset + filled))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TestSetupError.syscall("pread", path)
                }
                if n == 0 { break }
                filled += n
            }
            if filled == 0 { break }
            if zeros.withUnsafeBytes({ memcmp(buffer, $0.baseAddress!, filled) }) == 0 {
                state = mix(state, 0x9e37_79b9_7f4a_7c15 ^ UInt64(filled))
            } else {
                let words = filled / 8
                let pointer = buffer.assumingMemoryBound(to: UInt64.self)
                for index in 0..<words { state = mix(state, pointer[index]) }
                var tail: UInt64 = 0
                for index in (words * 8)..<filled { tail = (tail << 8) | UInt64(buffer.load(fromByteOffset: index, as: UInt8.self)) }
                state = mix(state, tail ^ (UInt64(filled & 7) << 56))
            }
            offset += filled
            if filled < chunkSize { break }
        }
        return mix(state, UInt64(offset))
    }

    @inline(__always)
    private static func mix(_ state: UInt64, _ word: UInt64) -> UInt64 {
        var h = (state ^ word) &* 0x0000_0100_0000_01b3
        h ^= h >> 29
        return h
    }
}
