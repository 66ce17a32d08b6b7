import Glibc

/// A recursive listing of a directory as `ls -lR --time-style=full` would
/// show it: per entry the type, mode, size, mtime (directories too) and
/// symlink target, plus the mounts at or below it. Two listings taken before
/// and after a command show whatever it changed, down to a directory whose
/// mtime moved because a temporary file came and went. Mounted filesystems
/// are recorded as mounts and not walked.
struct TreeListing: Sendable, Equatable {
    var entries: [ByteString: String]
    /// Mount targets relative to the top, with their filesystem and source, bottom first.
    var mounts: [String]

    static func take(_ top: ByteString) throws -> TreeListing {
        let topDevice = try FS.lstat(top).st_dev
        var entries: [ByteString: String] = [:]
        func walk(_ absolute: ByteString, _ relative: ByteString) throws {
            let st = try FS.lstat(absolute)
            let type = EntryType(mode: st.st_mode)
            var line = "\(type.rawValue) 0\(String(st.st_mode & 0o7777, radix: 8)) \(st.st_size) bytes, mtime \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
            if type == .symlink { line += " -> \(try FS.readlink(absolute))" }
            if type == .directory {
                if st.st_dev != topDevice {
                    line += " (another filesystem)"
                } else {
                    // ksqsh's per-version lock files (run/lock/ksqsh) are the one thing it may create anywhere.
                    for name in try FS.list(absolute) where !(relative == "." && name == "run") {
                        try walk(absolute / name, relative == "." ? name : relative / name)
                    }
                }
            }
            entries[relative] = line
        }
        try walk(top, ".")
        let mounts = MountInfo.entries()
            .filter { $0.target.isSameOrBelow(top) }
            .map { "\(Self.relative($0.target, to: top)) \($0.fileSystem) \($0.source)" }
        return TreeListing(entries: entries, mounts: mounts)
    }

    /// One line per difference (paths relative to the top), leaving out
    /// changes at or below `allowed` and the mtime of their parents (adding
    /// an entry changes its directory's mtime).
    func changes(to after: TreeListing, allowing allowed: [ByteString] = []) -> [String] {
        func isAllowed(_ path: ByteString) -> Bool {
            (path == "." && !allowed.isEmpty) || allowed.contains { path.isSameOrBelow($0) || $0.isBelow(path) }
        }
        var found: [String] = []
        for path in Set(entries.keys).union(after.entries.keys).sorted() where !isAllowed(path) {
            switch (entries[path], after.entries[path]) {
            case (let was?, nil): found.append("\(path): removed (was \(was))")
            case (nil, let now?): found.append("\(path): added (\(now))")
            case (let was?, let now?) where was != now: found.append("\(path): was \(was), now \(now)")
            default: break
            }
        }
        let mountsBefore = mounts.filter { line in !allowed.contains { line.hasPrefix("\($0) ") || line.hasPrefix("\($0)/") } }
        let mountsAfter = after.mounts.filter { line in !allowed.contains { line.hasPrefix("\($0) ") || line.hasPrefix("\($0)/") } }
        if mountsBefore != mountsAfter { found.append("mounts were \(mountsBefore), now \(mountsAfter)") }
        return found
    }

    private static func relative(_ path: ByteString, to top: ByteString) -> ByteString {
        path == top ? "." : ByteString(Array(path.bytes.dropFirst(top.bytes.count + 1)))
    }
}
