import Glibc

/// Replays a `SyscallTrace` over a snapshot of a scratch ROOT and says,
/// at every point of the trace, what a power cut there may leave below it.
///
/// The model (issue 16's, ALICE's in spirit, deliberately conservative):
/// - a file's bytes are durable as of the last fsync/fdatasync of the file
///   that returned; bytes written after it may be lost in whole or in part;
/// - each name operation (create, mkdir, link, symlink, rename, unlink,
///   rmdir) is atomic, and durable once an fsync of its directory (of both,
///   for a rename) returned after it; until then it may or may not have
///   reached the disk, in any order relative to the others and to data;
/// - sync() and syncfs() make everything durable.
///
/// The invariants checked are monotone (something is *there*, with the
/// right bytes), so for them the states to look at are the worst ones:
/// every pending removal done, every pending addition lost, each pending
/// rename both ways (`worstStates`). Every state the model allows keeps at
/// least what one of them keeps. `fullestState` is the other end, every
/// name operation done and every unsynced byte lost: the leftovers (a
/// temporary, an empty file under its final name) a rerun must cope with.
final class CrashModel {
    private enum Kind { case file, directory, symlink([UInt8]) }

    private struct Inode {
        var kind: Kind
        var mode: mode_t
        var modificationTime: timespec?
        /// The bytes as written so far (nil: changed in a way the trace does not carry).
        var bytes: [UInt8]? = []
        var version = 0
        var syncedVersion = 0
        var syncedBytes: [UInt8]? = []
        var children: [String: Int] = [:]
        var durableChildren: [String: Int] = [:]
        /// Whether a durable name ever led to it: only then can a worst state show it.
        var everDurable = false
    }

    private enum NameOperation {
        case add(directory: Int, name: String, inode: Int)
        case remove(directory: Int, name: String, inode: Int)
        case rename(from: Int, fromName: String, to: Int, toName: String, inode: Int)
    }

    private struct Pending {
        let operation: NameOperation
        var unsyncedDirectories: Set<Int>
    }

    private let root: String
    /// Relative paths below ROOT left out of every state (a tmpfs like /run
    /// comes back empty after a power cut).
    private let volatile: Set<String>
    private var inodes: [Inode] = []
    private var pending: [Pending] = []
    /// O_TMPFILE files by the path `-y` shows for them ("/dir/#123").
    private var unnamed: [String: Int] = [:]
    private var unnamedByDescriptor: [Int32: Int] = [:]
    /// Where the next write() on a file lands, by the path `-y` shows: an
    /// offset belongs to the open file, which dup2 shares between
    /// descriptors (a shell's `> FILE` writes through 1). nil: at the end (O_APPEND).
    private var offsets: [String: Int?] = [:]
    /// Bumped by every call that may change `worstStates()` (a removal, a
    /// rename, a sync, the first write after a sync); `fullestGeneration`
    /// also by what only changes `fullestState()` (a name added).
    private(set) var worstGeneration = 0
    private(set) var fullestGeneration = 0
    /// Modes of what is created are masked with this process's umask, which ksqsh inherits.
    private let umask: mode_t = { let mask = Glibc.umask(0); Glibc.umask(mask); return mask }()
    /// Calls below ROOT the model could not follow: the check fails on them.
    private(set) var unfollowed: [String] = []

    init(root: ByteString, initial: CrashState, volatile: Set<String>) {
        self.root = root.string
        self.volatile = volatile
        inodes.append(Inode(kind: .directory, mode: 0o755, everDurable: true))
        for path in initial.entries.keys.sorted() {
            let entry = initial.entries[path]!
            let parent = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
            guard let directory = resolve(parent) else { continue }
            let kind: Kind
            var bytes: [UInt8]? = []
            switch entry.kind {
            case .directory: kind = .directory
            case .symlink(let target): kind = .symlink(target)
            case .file(let content): kind = .file; if case .bytes(let known) = content { bytes = known }
            }
            let inode = newInode(Inode(kind: kind, mode: entry.mode, modificationTime: entry.modificationTime, bytes: bytes, syncedBytes: bytes, everDurable: true))
            let name = String(path.split(separator: "/").last!)
            inodes[directory].children[name] = inode
            inodes[directory].durableChildren[name] = inode
        }
    }

    private func newInode(_ inode: Inode) -> Int {
        inodes.append(inode)
        return inodes.count - 1
    }

    // MARK: Replaying

    /// Applies one call (`worstGeneration` and `fullestGeneration` say what changed).
    func apply(_ call: SyscallTrace.Call) {
        let name = call.name
        if !call.resolved, Self.namingCalls.contains(name), !SyscallTrace.opens.contains(name) || call.flags.contains("O_CREAT") {
            return unfollow(call, "names a relative path in an unknown working directory")
        }
        if SyscallTrace.globalSyncs.contains(name) { return syncEverything() }
        if SyscallTrace.syncs.contains(name) { return sync(call) }
        if SyscallTrace.opens.contains(name) { return open(call) }
        if SyscallTrace.writes.contains(name) { return write(call) }
        if name == "lseek" { return seek(call) }
        if SyscallTrace.opaqueChanges.contains(name) {
            // On a descriptor (ftruncate) or a path (truncate): the model loses the bytes.
            guard let path = call.descriptor?.descriptorPath ?? call.paths.first, let inode = fileInode(path) else { return }
            dirty(inode)
            inodes[inode].bytes = nil
            return
        }
        if SyscallTrace.directoryCreations.contains(name) {
            guard let (directory, entry) = parentAndName(call.paths.first, call) else { return }
            let mode = (call.arguments.last?.text.flatMap { mode_t($0, radix: 8) } ?? 0o755) & ~umask
            add(entry, newInode(Inode(kind: .directory, mode: mode)), in: directory)
            return
        }
        if SyscallTrace.removals.contains(name) {
            guard let (directory, entry) = parentAndName(call.paths.first, call) else { return }
            guard let inode = inodes[directory].children[entry] else { return unfollow(call, "removes a name the model does not know") }
            inodes[directory].children[entry] = nil
            pending.append(Pending(operation: .remove(directory: directory, name: entry, inode: inode), unsyncedDirectories: [directory]))
            worstGeneration += 1
            return
        }
        if SyscallTrace.renames.contains(name) {
            if call.flags.contains("RENAME_EXCHANGE") || call.flags.contains("RENAME_WHITEOUT") { return unfollow(call, "exchange and whiteout are not modelled") }
            guard call.paths.count == 2 else { return }
            let source = parentAndName(call.paths[0], call), target = parentAndName(call.paths[1], call)
            guard let (from, fromName) = source, let (to, toName) = target else {
                if source != nil || target != nil { unfollow(call, "moves across ROOT") }
                return
            }
            guard let inode = inodes[from].children[fromName] else { return unfollow(call, "renames a name the model does not know") }
            inodes[from].children[fromName] = nil
            inodes[to].children[toName] = inode
            pending.append(Pending(operation: .rename(from: from, fromName: fromName, to: to, toName: toName, inode: inode), unsyncedDirectories: [from, to]))
            worstGeneration += 1
            return
        }
        if SyscallTrace.links.contains(name) {
            guard let target = call.paths.last, let (directory, entry) = parentAndName(target, call) else { return }
            let source = call.arguments.compactMap(\.bytes).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
            let inode: Int?
            if source.hasPrefix("/proc/self/fd/"), let number = Int32(source.dropFirst("/proc/self/fd/".count)) {
                inode = unnamedByDescriptor[number]
            } else {
                inode = call.paths.count == 2 ? relative(call.paths[0]).flatMap(resolve) : nil
            }
            guard let inode else { return unfollow(call, "links a file the model does not know") }
            add(entry, inode, in: directory)
            return
        }
        if SyscallTrace.symlinks.contains(name) {
            guard let target = call.paths.last, let (directory, entry) = parentAndName(target, call) else { return }
            let destination = call.arguments.compactMap(\.bytes).first ?? []
            add(entry, newInode(Inode(kind: .symlink(destination), mode: 0o777)), in: directory)
            return
        }
        return
    }

    /// The calls that name a path to create, remove or move.
    private static let namingCalls = SyscallTrace.directoryCreations.union(SyscallTrace.removals).union(SyscallTrace.renames)
        .union(SyscallTrace.links).union(SyscallTrace.symlinks).union(SyscallTrace.opens)

    /// A change to the bytes of `inode`; the first since its last sync
    /// takes the synced bytes out of every state.
    private func dirty(_ inode: Int) {
        if inodes[inode].version == inodes[inode].syncedVersion {
            fullestGeneration += 1
            if inodes[inode].everDurable { worstGeneration += 1 }
        }
        inodes[inode].version += 1
    }

    private func unfollow(_ call: SyscallTrace.Call, _ why: String) {
        unfollowed.append("\(why): \(call)")
    }

    private func add(_ name: String, _ inode: Int, in directory: Int) {
        inodes[directory].children[name] = inode
        pending.append(Pending(operation: .add(directory: directory, name: name, inode: inode), unsyncedDirectories: [directory]))
        fullestGeneration += 1
    }

    private func open(_ call: SyscallTrace.Call) {
        let flags = call.flags
        guard case .descriptor(let number?, let openedPath) = call.result else { return }
        let mode = (call.arguments.last?.text.flatMap { mode_t($0, radix: 8) } ?? 0o644) & ~umask
        if flags.contains("O_TMPFILE") {
            guard relative(openedPath) != nil else { return }
            let inode = newInode(Inode(kind: .file, mode: mode))
            unnamed[openedPath] = inode
            unnamedByDescriptor[number] = inode
            offsets[openedPath] = 0
            return
        }
        guard flags.contains("O_WRONLY") || flags.contains("O_RDWR"), let path = call.paths.first, let below = relative(path) else { return }
        if let inode = resolve(below) {
            if flags.contains("O_TRUNC") {
                dirty(inode)
                inodes[inode].bytes = []
            }
        } else if flags.contains("O_CREAT"), let (directory, entry) = parentAndName(path, call) {
            add(entry, newInode(Inode(kind: .file, mode: mode)), in: directory)
        }
        offsets[openedPath] = flags.contains("O_APPEND") ? .some(nil) : 0
    }

    private func write(_ call: SyscallTrace.Call) {
        guard let path = call.descriptor?.descriptorPath, let inode = fileInode(path), let written = call.result.text.flatMap({ Int($0) }) else { return }
        let data = Array((call.arguments.dropFirst().first?.bytes ?? []).prefix(written))
        let offset: Int?
        if call.name == "pwrite64" {
            offset = call.arguments.last?.text.flatMap { Int($0) }
        } else if let known = offsets[path] {
            offset = known ?? inodes[inode].bytes?.count
            if known != nil { offsets[path] = offset.map { $0 + written } }
        } else {
            offset = nil
        }
        dirty(inode)
        guard let offset, data.count == written, var bytes = inodes[inode].bytes else {
            inodes[inode].bytes = nil
            return
        }
        if bytes.count < offset + written { bytes += [UInt8](repeating: 0, count: offset + written - bytes.count) }
        bytes.replaceSubrange(offset..<(offset + written), with: data)
        inodes[inode].bytes = bytes
    }

    private func seek(_ call: SyscallTrace.Call) {
        guard let path = call.descriptor?.descriptorPath else { return }
        // lseek returns the new offset, whatever the whence.
        offsets[path] = call.result.text.flatMap { Int($0) }.map { .some($0) }
    }

    private func sync(_ call: SyscallTrace.Call) {
        guard let path = call.descriptor?.descriptorPath else { return }
        guard let inode = unnamed[path] ?? relative(path).flatMap(resolve) else { return }
        if case .directory = inodes[inode].kind {
            synced(directory: inode)
        } else if inodes[inode].syncedVersion != inodes[inode].version {
            inodes[inode].syncedVersion = inodes[inode].version
            inodes[inode].syncedBytes = inodes[inode].bytes
            worstGeneration += 1
        }
        return
    }

    private func synced(directory: Int) {
        var still: [Pending] = []
        for var entry in pending {
            entry.unsyncedDirectories.remove(directory)
            if entry.unsyncedDirectories.isEmpty { applyDurably(entry.operation) } else { still.append(entry) }
        }
        if still.count != pending.count { worstGeneration += 1 }
        pending = still
    }

    private func syncEverything() {
        worstGeneration += 1
        for entry in pending { applyDurably(entry.operation) }
        pending = []
        for index in inodes.indices {
            inodes[index].syncedVersion = inodes[index].version
            inodes[index].syncedBytes = inodes[index].bytes
        }
    }

    private func applyDurably(_ operation: NameOperation) {
        apply(operation, to: &inodes)
        switch operation {
        case .add(_, _, let inode), .rename(_, _, _, _, let inode): inodes[inode].everDurable = true
        case .remove: break
        }
    }

    /// One name operation on the durable names.
    private func apply(_ operation: NameOperation, to table: inout [Inode]) {
        switch operation {
        case .add(let directory, let name, let inode):
            table[directory].durableChildren[name] = inode
        case .remove(let directory, let name, let inode):
            if table[directory].durableChildren[name] == inode { table[directory].durableChildren[name] = nil }
        case .rename(let from, let fromName, let to, let toName, let inode):
            if table[from].durableChildren[fromName] == inode { table[from].durableChildren[fromName] = nil }
            table[to].durableChildren[toName] = inode
        }
    }

    // MARK: Paths

    /// `path` relative to ROOT ("" for ROOT), nil outside it.
    private func relative(_ path: String) -> String? {
        if path == root { return "" }
        guard path.hasPrefix(root + "/") else { return nil }
        return String(path.dropFirst(root.count + 1))
    }

    private func resolve(_ relative: String) -> Int? {
        var inode = 0
        for component in relative.split(separator: "/") {
            guard let next = inodes[inode].children[String(component)] else { return nil }
            inode = next
        }
        return inode
    }

    /// The parent directory's inode and the last name of `path`, when it
    /// lies below ROOT; a parent the model does not know is recorded.
    private func parentAndName(_ path: String?, _ call: SyscallTrace.Call) -> (Int, String)? {
        guard let path, let relative = relative(path), !relative.isEmpty else { return nil }
        let parent = relative.lastIndex(of: "/").map { String(relative[..<$0]) } ?? ""
        guard let directory = resolve(parent) else {
            unfollow(call, "acts in a directory the model does not know")
            return nil
        }
        return (directory, String(relative.split(separator: "/").last!))
    }

    /// The file at `path`, or the unnamed one `-y` shows as it.
    private func fileInode(_ path: String) -> Int? {
        guard let inode = unnamed[path] ?? relative(path).flatMap(resolve), case .file = inodes[inode].kind else { return nil }
        return inode
    }

    // MARK: States

    /// The states a power cut now may leave that keep the least: pending
    /// removals done, pending additions lost, each pending rename done or
    /// not (all 2^n ways up to `renameLimit`; beyond, both of its names lost).
    func worstStates(renameLimit: Int = 6) -> [CrashState] {
        var table = inodes
        var renames: [NameOperation] = []
        for entry in pending {
            switch entry.operation {
            case .remove: apply(entry.operation, to: &table)
            case .add: continue
            case .rename: renames.append(entry.operation)
            }
        }
        guard renames.count <= renameLimit else {
            for case .rename(let from, let fromName, let to, let toName, let inode) in renames {
                if table[from].durableChildren[fromName] == inode { table[from].durableChildren[fromName] = nil }
                table[to].durableChildren[toName] = nil
            }
            return [state(table, durable: true)]
        }
        return (0..<(1 << renames.count)).map { mask in
            var variant = table
            for (bit, rename) in renames.enumerated() where mask & (1 << bit) != 0 { apply(rename, to: &variant) }
            return state(variant, durable: true)
        }
    }

    /// Every name operation done, every byte not synced lost.
    func fullestState() -> CrashState { state(inodes, durable: false) }

    /// The names and bytes as the running system sees them now (nothing lost).
    func currentState() -> CrashState {
        var state = state(inodes, durable: false)
        for (path, entry) in state.entries where entry.kind == .file(.lost) {
            if let inode = entry.inode, let bytes = inodes[inode].bytes { state.entries[path]?.kind = .file(.bytes(bytes)) }
        }
        return state
    }

    /// Each file's digest at the version it was hashed.
    private var digests: [Int: (version: Int, digest: Int)] = [:]

    private func digest(of inode: Int, _ node: Inode, _ bytes: [UInt8]) -> Int {
        if let cached = digests[inode], cached.version == node.syncedVersion { return cached.digest }
        let digest = bytes.hashValue
        digests[inode] = (node.syncedVersion, digest)
        return digest
    }

    private func state(_ table: [Inode], durable: Bool) -> CrashState {
        var state = CrashState()
        func walk(_ directory: Int, _ prefix: String) {
            for (name, inode) in durable ? table[directory].durableChildren : table[directory].children {
                let path = prefix.isEmpty ? name : prefix + "/" + name
                if volatile.contains(path) { continue }
                let node = table[inode]
                let kind: CrashState.Kind
                switch node.kind {
                case .directory: kind = .directory
                case .symlink(let target): kind = .symlink(target)
                case .file:
                    let kept = node.version == node.syncedVersion ? node.syncedBytes : nil
                    kind = .file(kept.map { .bytes($0) } ?? .lost)
                }
                var entry = CrashState.Entry(kind: kind, mode: node.mode, modificationTime: node.modificationTime, inode: inode)
                if case .file(.bytes(let bytes)) = kind { entry.digest = digest(of: inode, node, bytes) }
                state.entries[path] = entry
                if case .directory = node.kind { walk(inode, path) }
            }
        }
        walk(0, "")
        return state
    }

    /// The model's inode for each file below ROOT as the run left it.
    func currentInodes() -> [String: Int] {
        currentState().entries.compactMapValues { entry in if case .file = entry.kind { entry.inode } else { nil } }
    }
}
