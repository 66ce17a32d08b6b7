/// Reads a `SyscallTrace` under issue 16's crash model: what a power cut
/// keeps of a file is what an fsync that returned covered — its content
/// (an fsync of the file) and its name (an fsync of its directory after the
/// rename or link that gave it), and likewise the name of every directory
/// made on its way. Nothing else is ordered: a later unlink may reach the
/// disk before an earlier, unsynced write.
struct DurabilityCheck {
    let trace: SyscallTrace

    /// What of the file `path` is not yet durable when the call at `limit`
    /// runs (nil: when the traced process ends); empty when a power cut from
    /// then on keeps it.
    func problems(of path: String, before limit: Int? = nil) -> [String] {
        let limit = limit ?? trace.calls.count
        let calls = trace.calls.prefix(limit)
        guard let naming = calls.last(where: { Self.namings.contains($0.name) && $0.paths.last == path }) else {
            return ["\(path) got no name by a rename or link before \(describe(limit))"]
        }
        var problems: [String] = []
        let source = naming.paths.first ?? ""
        let contentSynced: Bool
        if SyscallTrace.symlinks.contains(naming.name) {
            contentSynced = true
        } else if source.hasPrefix("/proc/self/fd/") {
            // An O_TMPFILE linked into place: its descriptor's fsync.
            let descriptor = Int32(source.dropFirst("/proc/self/fd/".count))
            contentSynced = calls.prefix(naming.index).contains { call in
                SyscallTrace.syncs.contains(call.name) && call.descriptor?.descriptorNumber == descriptor
            }
        } else {
            contentSynced = calls.prefix(naming.index).contains { SyscallTrace.syncs.contains($0.name) && $0.paths == [source] }
        }
        if !contentSynced { problems.append("\(path): its content is not synced before `\(naming)`") }
        problems += nameProblems(path, madeBy: naming, before: limit)
        for made in calls where SyscallTrace.directoryCreations.contains(made.name) {
            guard let directory = made.paths.first, path.hasPrefix(directory + "/") else { continue }
            problems += nameProblems(directory, madeBy: made, before: limit)
        }
        return problems
    }

    /// The first removal at or below `directory` after the call at `start`.
    func firstRemoval(in directory: String, after start: Int = -1) -> SyscallTrace.Call? {
        trace.calls.dropFirst(start + 1).first { call in
            SyscallTrace.removals.contains(call.name) && call.paths.contains { $0 == directory || $0.hasPrefix(directory + "/") }
        }
    }

    /// The calls that give a file its name.
    static let namings = SyscallTrace.renames.union(SyscallTrace.links).union(SyscallTrace.symlinks)

    /// The call that gave `path` its name last before `limit`.
    func naming(of path: String, before limit: Int? = nil) -> SyscallTrace.Call? {
        trace.calls.prefix(limit ?? trace.calls.count).last { Self.namings.contains($0.name) && $0.paths.last == path }
    }

    private func nameProblems(_ path: String, madeBy call: SyscallTrace.Call, before limit: Int) -> [String] {
        let parent = String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)])
        let synced = trace.calls[(call.index + 1)..<limit].contains { SyscallTrace.syncs.contains($0.name) && $0.paths == [parent] }
        return synced ? [] : ["\(path): its name is not synced (fsync of \(parent)) between `\(call)` and \(describe(limit))"]
    }

    private func describe(_ limit: Int) -> String {
        limit < trace.calls.count ? "`\(trace.calls[limit])`" : "the end of the run"
    }

    /// The calls that make, rename, link or remove a name outside
    /// `allowed` (directories, with everything below them): what ksqsh
    /// touched that it had no business touching.
    func changes(outside allowed: [String]) -> [SyscallTrace.Call] {
        let changing = SyscallTrace.directoryCreations.union(Self.namings).union(SyscallTrace.removals)
        return trace.calls.filter { call in
            guard changing.contains(call.name) else { return false }
            // A link's or rename's source is read, not changed: only its last path counts,
            // unless it is a rename, whose source name goes away too.
            let touched = SyscallTrace.renames.contains(call.name) ? call.paths : Array(call.paths.suffix(1))
            return touched.contains { path in !allowed.contains { path == $0 || path.hasPrefix($0 + "/") } }
        }
    }
}
