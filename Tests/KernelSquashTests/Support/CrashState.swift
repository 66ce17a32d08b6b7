import Glibc

/// What is on disk below a scratch ROOT, by path relative to it: a state a
/// power cut may leave (built by `CrashModel`), or a real tree read back.
struct CrashState: Equatable {
    enum Content: Equatable {
        case bytes([UInt8])
        /// Written but not synced: a power cut may have kept any part of it.
        case lost
    }

    enum Kind: Equatable {
        case directory
        case file(Content)
        case symlink([UInt8])
    }

    struct Entry: Equatable {
        var kind: Kind
        var mode: mode_t
        /// For entries that existed before the traced run: restored on
        /// materializing, as a power cut keeps them (squash compares them).
        var modificationTime: timespec?
        /// The crash model's inode, to re-link the very file (its identity
        /// counts for `DeletionMarker`) when it outlived the run.
        var inode: Int?
        /// A digest of the bytes, for `fingerprint` (the model hashes each
        /// file once per version, not once per state).
        var digest: Int?

        static func == (lhs: Entry, rhs: Entry) -> Bool { lhs.kind == rhs.kind && lhs.mode == rhs.mode }
    }

    /// Relative paths ("usr/src/linux.sqfs"); the ROOT itself is not listed.
    var entries: [String: Entry] = [:]

    subscript(_ path: String) -> Entry? { entries[path] }

    /// The bytes at `path`, nil unless it is a file whose content survived.
    func bytes(at path: String) -> [UInt8]? {
        if case .file(.bytes(let bytes))? = entries[path]?.kind { return bytes }
        return nil
    }

    /// Paths strictly below `directory` ("" for everything).
    func paths(below directory: String) -> [String] {
        directory.isEmpty ? Array(entries.keys) : entries.keys.filter { $0.hasPrefix(directory + "/") }
    }

    /// The state without the entries at `paths`.
    func without(_ paths: [String]) -> CrashState {
        var copy = self
        for path in paths { copy.entries[path] = nil }
        return copy
    }

    /// Reads the tree below `root` without crossing into mounts and
    /// without descending into `skipping` (relative paths). Without
    /// `contents`, files are listed with their content `.lost`, unread.
    static func read(_ root: ByteString, skipping: Set<String> = [], contents: Bool = true) throws -> CrashState {
        var state = CrashState()
        let device = try FS.lstat(root).st_dev
        func walk(_ directory: ByteString, _ relative: String) throws {
            for name in try FS.list(directory) {
                let path = directory / name
                let child = relative.isEmpty ? name.string : relative + "/" + name.string
                if skipping.contains(child) { continue }
                let info = try FS.lstat(path)
                let mode = info.st_mode & 0o7777
                switch info.st_mode & S_IFMT {
                case S_IFDIR:
                    state.entries[child] = Entry(kind: .directory, mode: mode, modificationTime: info.st_mtim)
                    if info.st_dev == device { try walk(path, child) }
                case S_IFLNK:
                    state.entries[child] = Entry(kind: .symlink(try FS.readlink(path).bytes), mode: 0o777, modificationTime: info.st_mtim)
                case S_IFREG:
                    state.entries[child] = Entry(kind: .file(contents ? .bytes(try FS.readFile(path)) : .lost), mode: mode, modificationTime: info.st_mtim)
                default:
                    throw TestSetupError("\(path): the crash-state checker models files, directories and symlinks only")
                }
            }
        }
        try walk(root, "")
        return state
    }

    /// How `self` (as found) differs from `expected`: one line per path.
    func differences(from expected: CrashState) -> [String] {
        var found: [String] = []
        for path in Set(entries.keys).union(expected.entries.keys).sorted() {
            switch (entries[path], expected.entries[path]) {
            case (nil, _?): found.append("\(path): missing")
            case (_?, nil): found.append("\(path): not expected")
            case (let mine?, let theirs?) where mine != theirs:
                found.append("\(path): \(mine.summary) instead of \(theirs.summary)")
            default: break
            }
        }
        return found
    }

    /// Makes the tree below `root` this state: what is not in it goes,
    /// directories that stay keep their inode, files come from `keep`
    /// (hard links to the inodes that outlived the traced run) when the
    /// content is theirs, else are written; lost content is written empty.
    func materialize(at root: ByteString, keep: [Int: (path: ByteString, bytes: [UInt8])]) throws {
        let present = try CrashState.read(root, contents: false)
        for path in present.entries.keys.sorted(by: >) {
            let target = root / ByteString(path)
            if present.entries[path]?.kind == .directory {
                if entries[path]?.kind != .directory { try Subprocess.runChecked("rm", ["-rf", "--", target]) }
            } else if FS.exists(target) {
                try FS.unlink(target)
            }
        }
        for path in entries.keys.sorted() {
            let entry = entries[path]!
            let target = root / ByteString(path)
            switch entry.kind {
            case .directory:
                if !FS.isDirectory(target) { try FS.mkdir(target, mode: entry.mode) }
                try FS.chmod(target, entry.mode)
            case .symlink(let destination):
                try FS.symlink(target: ByteString(destination), at: target)
            case .file(let content):
                let bytes: [UInt8]
                if case .bytes(let known) = content { bytes = known } else { bytes = [] }
                if let inode = entry.inode, let kept = keep[inode], kept.bytes == bytes {
                    try FS.link(existing: kept.path, new: target)
                } else {
                    try FS.writeFile(target, bytes, mode: entry.mode)
                    try FS.chmod(target, entry.mode)
                }
            }
        }
        // Times last, deepest first: making entries touches their directory.
        for path in entries.keys.sorted(by: >) {
            guard let time = entries[path]?.modificationTime else { continue }
            var times = [time, time]
            let status = (root / ByteString(path)).withCString { utimensat(AT_FDCWD, $0, &times, AT_SYMLINK_NOFOLLOW) }
            if status != 0 { throw TestSetupError.syscall("utimensat", root / ByteString(path)) }
        }
    }

    /// A stable digest, to tell states apart cheaply.
    var fingerprint: Int {
        var hasher = Hasher()
        for path in entries.keys.sorted() {
            hasher.combine(path)
            let entry = entries[path]!
            hasher.combine(entry.mode)
            switch entry.kind {
            case .directory: hasher.combine(0)
            case .symlink(let target): hasher.combine(1); hasher.combine(target)
            case .file(.lost): hasher.combine(2)
            case .file(.bytes(let bytes)): hasher.combine(3); hasher.combine(entry.digest ?? bytes.hashValue)
            }
        }
        return hasher.finalize()
    }
}

extension CrashState.Entry {
    var summary: String {
        let mode = String(mode, radix: 8)
        switch kind {
        case .directory: return "a directory (\(mode))"
        case .symlink(let target): return "a symlink to \(ByteString(target)) (\(mode))"
        case .file(.lost): return "a file whose content is lost (\(mode))"
        case .file(.bytes(let bytes)): return "a file of \(bytes.count) bytes (\(mode))"
        }
    }
}
