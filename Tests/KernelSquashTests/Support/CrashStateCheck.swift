import Testing

/// Issue 16's crash-state checker: runs one ksqsh operation under
/// `strace`, replays the trace in a `CrashModel`, and at every point of it
/// checks the invariants on each worst state a power cut there may leave.
/// Each distinct state is then written out for real, the same command runs
/// on it again, and must reach the state the uninterrupted run reached:
/// invariant (d).
struct CrashStateCheck {
    /// A named condition on a crash state: the violations, empty when it holds.
    struct Invariant {
        let name: String
        let violations: (CrashState) -> [String]
    }

    var scenario: String
    /// The scratch ROOT: everything the operation may touch lies below it.
    let root: ByteString
    let command: [ByteString]
    var environment: [String: String?] = [:]
    /// Below ROOT, empty after a power cut (a tmpfs).
    var volatile: Set<String> = ["run"]
    var invariants: [Invariant] = []
    /// Files a recovery may write with other bytes that are as good: an
    /// image made again holds the directories' new times.
    var equivalentAfterRecovery: [String: ([UInt8]) -> Bool] = [:]
    /// Undoes what the run mounted, before a state is written out and after a recovery.
    var unmount: () -> Void = {}
    /// Whether the fullest state (every name operation done, unsynced bytes
    /// lost) is recovered too; not where the kernel's make wrote unsynced
    /// objects a rerun of make takes as up to date.
    var recoversFullestStates = true
    /// Picks a state to leave in ROOT once the check is done (the last
    /// recovered one it accepts): the start of a further check.
    var leaving: ((CrashState) -> Bool)?

    struct Outcome {
        /// Instants checked: before each call, and the end.
        var points = 0
        /// Those whose worst states all kept invariants (a)–(c).
        var pointsHeld = 0
        /// Distinct worst states checked.
        var worstStates = 0
        var recoveries = 0
        var recoveriesFailed = 0
        var violations: [String] = []
        /// The state the uninterrupted run left.
        var finished = CrashState()
    }

    /// A state to write out and recover, with the point it first appeared at.
    private typealias Candidate = (state: CrashState, point: Int)
    /// The files that outlived the run, by the model's inode, linked aside.
    private typealias Kept = [Int: (path: ByteString, bytes: [UInt8])]

    /// ROOT as it is now, without what a power cut empties: what the invariants compare with.
    func initialState() throws -> CrashState { try CrashState.read(root, skipping: volatile) }

    static let tracedCalls = SyscallTrace.crashModelCalls.joined(separator: ",")

    @discardableResult
    func run(sourceLocation: SourceLocation = #_sourceLocation) throws -> Outcome {
        let scratch = try TemporaryDirectory("crash-state-work")
        defer { scratch.remove() }
        let model = CrashModel(root: root, initial: try CrashState.read(root), volatile: volatile)
        var timing = Timing()

        let trace = try record(into: scratch["strace.out"], sourceLocation: sourceLocation)
        timing.lap("traced run and parse")
        var outcome = Outcome()
        outcome.finished = try CrashState.read(root, skipping: volatile)
        let candidates = check(trace, in: model, &outcome)
        timing.lap("replay")
        expectFollowed(trace, by: model, finished: outcome.finished, sourceLocation: sourceLocation)
        let kept = try keepSurvivors(of: model, finished: outcome.finished, in: scratch["keep"])
        try recover(candidates, trace: trace, kept: kept, &outcome)
        timing.lap("recoveries")
        print("crash states: \(scenario): \(timing)")

        if let leaving, let left = candidates.last(where: { leaving($0.state) }) {
            unmount()
            try left.state.materialize(at: root, keep: kept)
        }
        #expect(outcome.violations.isEmpty, "\(scenario): \(outcome.violations.count) violations:\n\(outcome.violations.prefix(12).joined(separator: "\n"))", sourceLocation: sourceLocation)
        print(
            "reliability-summary\tcrash states: \(scenario)\t\(outcome.points)\t\(max(0, outcome.pointsHeld - outcome.recoveriesFailed))\t"
                + "\(trace.calls.count) calls traced; \(outcome.worstStates) worst states checked, \(outcome.recoveries) recovered; \(outcome.violations.count) violations")
        return outcome
    }

    /// Runs the command under strace and reads the trace.
    private func record(into file: ByteString, sourceLocation: SourceLocation) throws -> SyscallTrace {
        let result = try Subprocess.run(
            "strace", ["-f", "-y", "-xx", "-s", "16777216", "-qq", "-o", file, "-e", ByteString("trace=" + Self.tracedCalls), try Ksqsh.binary()] + command,
            environment: environment, timeout: .seconds(300))
        expectCompleted(result, sourceLocation: sourceLocation)
        // CRASH_STATE_TRACES=DIR keeps each raw trace, to read by hand.
        if let directory = ProcessEnvironment.value("CRASH_STATE_TRACES") {
            try Subprocess.runChecked("cp", [file, ByteString(directory) / ByteString(scenario.filter { $0.isLetter || $0.isNumber } + ".strace")])
        }
        return SyscallTrace(try FS.readFile(file))
    }

    /// Where a power cut at `point` (before that call; the count of calls: at the end) comes.
    private static func describe(_ point: Int, in trace: SyscallTrace) -> String {
        point == 0 ? "before anything" : point == trace.calls.count ? "at the end" : "after `\(trace.calls[point - 1])`"
    }

    /// Replays the trace and checks (a)–(c) on the worst states at every
    /// point; returns the distinct states to recover.
    private func check(_ trace: SyscallTrace, in model: CrashModel, _ outcome: inout Outcome) -> [Candidate] {
        var held: [Int: Bool] = [:]
        var candidates: [Candidate] = []
        var seen: Set<Int> = []
        func candidate(_ state: CrashState, _ point: Int) {
            if seen.insert(state.fingerprint).inserted { candidates.append((state, point)) }
        }
        /// Whether every worst state at `point` holds.
        func worstStatesHold(at point: Int) -> Bool {
            var all = true
            for state in model.worstStates() {
                candidate(state, point)
                let fingerprint = state.fingerprint
                if let known = held[fingerprint] { all = all && known; continue }
                outcome.worstStates += 1
                var holds = true
                for invariant in invariants {
                    let found = invariant.violations(state)
                    guard !found.isEmpty else { continue }
                    holds = false
                    outcome.violations.append("(\(invariant.name)) a power cut \(Self.describe(point, in: trace)) may leave: \(found.prefix(3).joined(separator: "; "))")
                }
                held[fingerprint] = holds
                all = all && holds
            }
            return all
        }
        // Where the call before changed nothing the states can see, a point's states are the last point's.
        var lastHeld = true
        var worst = -1, fullest = -1
        for point in 0...trace.calls.count {
            if model.worstGeneration != worst { lastHeld = worstStatesHold(at: point) }
            if recoversFullestStates && (model.worstGeneration != worst || model.fullestGeneration != fullest) { candidate(model.fullestState(), point) }
            (worst, fullest) = (model.worstGeneration, model.fullestGeneration)
            outcome.points += 1
            outcome.pointsHeld += lastHeld ? 1 : 0
            if point < trace.calls.count { model.apply(trace.calls[point]) }
        }
        return candidates
    }

    /// The model's own check: it followed every call, and replayed, the
    /// trace gives what is on disk, byte for byte.
    private func expectFollowed(_ trace: SyscallTrace, by model: CrashModel, finished: CrashState, sourceLocation: SourceLocation) {
        #expect(model.unfollowed.isEmpty, "the crash model could not follow:\n\(model.unfollowed.prefix(10).joined(separator: "\n"))", sourceLocation: sourceLocation)
        let drift = model.currentState().differences(from: finished)
        let callsOnDrift = drift.prefix(3).flatMap { line in
            let path = root.string + "/" + line.prefix(while: { $0 != ":" })
            return trace.calls.filter { $0.paths.contains(path) || $0.descriptor?.descriptorPath == path }.suffix(8).map { "  \($0)" }
        }
        #expect(drift.isEmpty, "the replayed trace differs from the disk:\n\((drift.prefix(10) + callsOnDrift).joined(separator: "\n"))", sourceLocation: sourceLocation)
    }

    /// Links aside the files that outlived the run: a state that keeps one
    /// gets the very inode back, as a power cut would.
    private func keepSurvivors(of model: CrashModel, finished: CrashState, in directory: ByteString) throws -> Kept {
        var kept: Kept = [:]
        try FS.mkdir(directory)
        for (path, inode) in model.currentInodes() {
            guard let bytes = finished.bytes(at: path) else { continue }
            let link = directory / ByteString("\(inode)")
            try FS.link(existing: root / ByteString(path), new: link)
            kept[inode] = (link, bytes)
        }
        return kept
    }

    /// (d): writes each state out, runs the recovery, and compares what it
    /// reached with the finished state.
    private func recover(_ candidates: [Candidate], trace: SyscallTrace, kept: Kept, _ outcome: inout Outcome) throws {
        for (state, index) in candidates {
            let point = Self.describe(index, in: trace)
            // A state that is already the finished one needs no recovery (a
            // second squash into the image it made is refused, and rightly).
            if state.differences(from: outcome.finished).isEmpty { continue }
            unmount()
            try state.materialize(at: root, keep: kept)
            let rerun = try Ksqsh.run(command, environment: environment, timeout: .seconds(300))
            let failure = rerun.succeeded
                ? nil : "`ksqsh \(command.map(\.description).joined(separator: " "))` failed (\(rerun.termination)): \(String(decoding: rerun.stderr, as: UTF8.self).prefix(400))"
            outcome.recoveries += 1
            var reached = try CrashState.read(root, skipping: volatile)
            for (path, accepts) in equivalentAfterRecovery {
                if let bytes = reached.bytes(at: path), accepts(bytes), let expected = outcome.finished[path] { reached.entries[path]?.kind = expected.kind }
            }
            unmount()
            let differences = reached.differences(from: outcome.finished)
            if let failure {
                outcome.violations.append("(d) from the state a power cut \(point) may leave: \(failure)")
            } else if !differences.isEmpty {
                outcome.violations.append("(d) from the state a power cut \(point) may leave, the recovery reached a different state: \(differences.prefix(5).joined(separator: "; "))")
            }
            if failure != nil || !differences.isEmpty { outcome.recoveriesFailed += 1 }
            for (inode, file) in kept where try FS.readFile(file.path) != file.bytes {
                outcome.violations.append("(d) the recovery from the state a power cut \(point) may leave changed the file of inode \(inode) in place")
            }
        }
    }

    /// How long each part took, for the test's output.
    private struct Timing: CustomStringConvertible {
        private let clock = ContinuousClock()
        private var start = ContinuousClock().now
        private var laps: [String] = []

        mutating func lap(_ name: String) {
            let now = clock.now
            laps.append("\(name) \((now - start).formatted(.units(allowed: [.seconds], fractionalPart: .show(length: 1))))")
            start = now
        }

        var description: String { laps.joined(separator: ", ") }
    }
}

/// Whether an image holds a tree: unpacked by unsquashfs (a reader
/// independent of ksqsh) and compared entry by entry, the top directory's
/// time aside (emptying the tree's top, as mrproper does, changes it).
/// Each distinct image is unpacked once.
final class ImageAcceptance {
    let tree: Manifest
    private var verdicts: [[UInt8]: Bool] = [:]

    init(tree: ByteString) throws { self.tree = try Manifest.scan(tree) }

    func accepts(_ image: [UInt8]) -> Bool {
        if let verdict = verdicts[image] { return verdict }
        let verdict = (try? unpackedMatches(image)) ?? false
        verdicts[image] = verdict
        return verdict
    }

    private func unpackedMatches(_ image: [UInt8]) throws -> Bool {
        let scratch = try TemporaryDirectory("crash-state-image")
        defer { scratch.remove() }
        try FS.writeFile(scratch["image.sqfs"], image)
        try Unsquashfs.extract(scratch["image.sqfs"], to: scratch["unpacked"])
        return Manifest.differences(actual: try Manifest.scan(scratch["unpacked"]), expected: tree, Manifest.Comparison(ownership: .ignore, root: false)).isEmpty
    }
}

extension CrashStateCheck.Invariant {
    /// (a) The tree as it was, or an image that holds it.
    static func sourcesKept(tree: String, initial: CrashState, image: String, accepted: ImageAcceptance) -> Self {
        Self(name: "a") { state in
            if let bytes = state.bytes(at: image), accepted.accepts(bytes) { return [] }
            let missing = ([tree] + initial.paths(below: tree)).filter { state[$0] != initial[$0] }
            return missing.isEmpty ? [] : ["neither the complete tree (\(missing.sorted().first!) missing or changed) nor the verified image \(image)"]
        }
    }

    /// (b) Every build dir's .config (or those at `configs`), where it was or in etc/kernels.
    static func configsKept(initial: CrashState, configs paths: [String]? = nil, savedConfigs: String = "etc/kernels") -> Self {
        let configs = (paths ?? initial.entries.keys.filter { $0.hasSuffix("/.config") && $0.contains("/build-") }).compactMap { path in initial.bytes(at: path).map { (path, $0) } }
        precondition(!configs.isEmpty, "no .config to keep in the initial state")
        return Self(name: "b") { state in
            let saved = Set(state.paths(below: savedConfigs).compactMap { state.bytes(at: $0) })
            return configs.compactMap { path, bytes in
                state.bytes(at: path) == bytes || saved.contains(bytes) ? nil : "\(path) is neither in its build dir nor in \(savedConfigs)"
            }
        }
    }

    /// (c) Nothing outside `allowed` (relative paths, with what is below) gone or changed.
    static func othersKept(initial: CrashState, allowed: [String]) -> Self {
        let others = initial.entries.keys.filter { path in !allowed.contains { path == $0 || path.hasPrefix($0 + "/") } }
        return Self(name: "c") { state in
            others.filter { state[$0] != initial[$0] }.sorted().map { "\($0) gone or changed" }
        }
    }
}
