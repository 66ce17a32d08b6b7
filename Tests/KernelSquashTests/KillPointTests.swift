import Glibc
import Testing

/// SIGKILL and SIGINT of `ksqsh squash --verify --delete-source` at points in
/// every stage, each found by watching the process from outside (its open
/// descriptors, the unnamed image growing, its super block, the tree's files
/// disappearing), never by hooks in ksqsh. After each kill: no image at the
/// final path unless it is the verified one (deletion stage), nothing else
/// beside it, the tree whole (or, while deleting, a subset of the original
/// with a marker to resume from); then the same command again must succeed
/// and leave the image every run of this tree gives, byte for byte, which is
/// checked once against the original tree's manifest.
@Suite(
    "Kill points of squash --verify --delete-source", .serialized, .hangGuard,
    .enabled(if: Requirements.isRoot, "needs root to mount a tmpfs (the disk here is too slow to watch deletion on)")
)
struct KillPointTests {
    @Test("SIGKILL and SIGINT at 10 points from walk to deletion: no partial image, tree whole or resumable, a rerun completes")
    func killEveryStage() throws {
        let work = try TemporaryDirectory("killpoints")
        defer { work.remove() }
        try Mounts.withTmpfs("size=256m", at: work.path) {
            let lab = try KillLab(in: work.path)
            try lab.calibrate()
            var outcomes: [KillLab.Outcome] = []
            for point in KillLab.points {
                for signal in [SIGKILL, SIGINT] {
                    outcomes.append(try lab.kill(at: point, with: signal, attempts: 3))
                }
            }
            lab.report(outcomes)
        }
    }
}

/// A generated tree, its pristine copy, and one squash run at a time against it.
final class KillLab {
    enum Stage: String, CaseIterable, Comparable {
        case startup, walk, compress, write, verify, delete, finished

        static func < (a: Stage, b: Stage) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }
    }

    /// Where to kill: a stage and how far into it.
    struct Point: CustomStringConvertible {
        let stage: Stage
        /// walk: milliseconds after the walk is first seen; compress/write:
        /// share of the final image size written; verify: share of the
        /// calibrated verify time; delete: share of the files deleted.
        let at: Double
        var description: String { "\(stage) @ \(at)" }
    }

    static let points: [Point] = [
        Point(stage: .walk, at: 0),
        Point(stage: .compress, at: 0), Point(stage: .compress, at: 0.3),
        Point(stage: .write, at: 0.75),
        Point(stage: .verify, at: 0.15), Point(stage: .verify, at: 0.6),
        Point(stage: .delete, at: 0.05), Point(stage: .delete, at: 0.4), Point(stage: .delete, at: 0.75), Point(stage: .delete, at: 0.97),
    ]

    struct Outcome {
        let point: Point
        let signal: Int32
        /// What was seen just before the signal went out.
        let stage: Stage
        let failures: [String]
    }

    let master: ByteString
    let source: ByteString
    let images: ByteString
    let image: ByteString
    let original: Manifest
    /// Regular files in the order --delete-source removes them (byte-sorted preorder).
    let deletionOrder: [ByteString]
    private(set) var reference: [UInt8] = []
    private var verifySeconds = 0.1

    init(in directory: ByteString) throws {
        master = directory / "master"
        source = directory / "src"
        images = directory / "images"
        image = images / "linux.sqfs"
        try FS.mkdir(images)
        try KillLab.generateTree(at: master)
        original = try Manifest.scan(master)
        deletionOrder = try KillLab.regularFilesInPreorder(master, relative: nil)
    }

    /// gzip and 64 KiB blocks: the image grows in small steps, so kill
    /// points can be placed by how much of it is written.
    var command: [ByteString] {
        ["squash", source, image, "--verify", "--delete-source", "--quiet", "--compression", "gzip", "--block-size", "64K"]
    }

    /// ~1,500 entries of text (about 4 MB): each stage lasts long enough to
    /// be seen, and a whole run takes about a second.
    static func generateTree(at root: ByteString) throws {
        try FS.mkdir(root)
        for directory in 0..<30 {
            let path = root / ByteString("dir-\(directory)")
            try FS.mkdir(path)
            for file in 0..<50 {
                try FS.writeFile(path / ByteString("file-\(file).c"), Content.text(600 + (directory * 50 + file) % 1400, seed: UInt64(directory * 1000 + file)))
            }
        }
        try FS.mkdir(root / "big")
        for index in 0..<2 { try FS.writeFile(root / ByteString("big/blob-\(index).txt"), Content.text(1 << 20, seed: 77 + UInt64(index))) }
        try FS.mkdir(root / "empty")
        try FS.symlink(target: "../dir-1/file-1.c", at: root / "big/link")
        try FS.link(existing: root / "dir-2/file-2.c", new: root / "big/hard-link")
    }

    static func regularFilesInPreorder(_ directory: ByteString, relative: ByteString?) throws -> [ByteString] {
        var files: [ByteString] = []
        for name in try FS.list(directory) {
            let path = relative.map { $0 / name } ?? name
            let info = try FS.lstat(directory / name)
            switch info.st_mode & S_IFMT {
            case S_IFDIR: files += try regularFilesInPreorder(directory / name, relative: path)
            case S_IFREG: files.append(path)
            default: break
            }
        }
        return files
    }

    /// A fresh copy of the tree at `source`, nothing beside the image.
    func reset() throws {
        if FS.exists(source) { try Subprocess.runChecked("rm", ["-rf", "--", source]) }
        for name in try FS.list(images) { try FS.unlink(images / name) }
        try Subprocess.runChecked("cp", ["-a", "--", master, source])
    }

    /// One run to the end: the reference image, checked against the
    /// original tree by an independent reader, and how long verification takes.
    func calibrate() throws {
        try reset()
        let child = try ChildProcess(try Ksqsh.binary(), command)
        var verifyStarted: Double?
        var verifyEnded: Double?
        var seen: [Stage] = []
        while child.isRunning {
            let stage = observe(child.pid).stage
            if seen.last != stage { seen.append(stage) }
            if stage == .verify, verifyStarted == nil { verifyStarted = now() }
            if stage == .delete, verifyEnded == nil { verifyEnded = now() }
            usleep(300)
        }
        let result = child.wait(timeout: .seconds(120))
        guard result.succeeded else { throw TestSetupError("the uninterrupted run failed: \(result)") }
        if let verifyStarted, let verifyEnded { verifySeconds = max(verifyEnded - verifyStarted, 0.01) }
        print("kill points: uninterrupted run took \(result.duration), stages seen \(seen.map(\.rawValue)), verify \(Int(verifySeconds * 1000)) ms")
        reference = try FS.readFile(image)
        if Requirements.hasUnsquashfs {
            let out = images.parent / "extracted"
            try Unsquashfs.extract(image, to: out)
            defer { _ = try? Subprocess.run("rm", ["-rf", "--", out]) }
            expectTreesMatch(try Manifest.scan(out), original, .init(ownership: IndependentReaderTests.defaultOwnership), reader: "unsquashfs")
        } else {
            expectSuccess(try Ksqsh.verify(image, against: master))
        }
    }

    // MARK: - Watching the process

    struct Observation {
        var stage: Stage
        /// Bytes of the unnamed image written so far.
        var written: UInt64 = 0
    }

    /// The stage, from outside: the image's final name means deleting; an
    /// unnamed file (`#INODE (deleted)`) in the image directory with its real
    /// super block means verifying, without it writing; a descriptor on the
    /// tree without any of these, walking.
    func observe(_ pid: pid_t) -> Observation {
        if FS.exists(image) { return Observation(stage: .delete) }
        let descriptors = ByteString("/proc/\(pid)/fd")
        guard let names = try? FS.list(descriptors) else { return Observation(stage: .finished) }
        var inTree = false
        var largest: (path: ByteString, size: UInt64)?
        for name in names {
            guard let target = try? FS.readlink(descriptors / name) else { continue }
            if target.string.hasPrefix(images.string + "/#"), target.string.hasSuffix(" (deleted)") {
                var info = stat()
                guard (descriptors / name).withCString({ stat($0, &info) }) == 0 else { continue }
                if UInt64(info.st_size) >= largest?.size ?? 0 { largest = (descriptors / name, UInt64(info.st_size)) }
            } else if target == source || target.isBelow(source) {
                inTree = true
            }
        }
        guard let largest else { return Observation(stage: inTree ? .walk : .startup) }
        if hasFinalSuperBlock(largest.path) { return Observation(stage: .verify, written: largest.size) }
        // Compressing and writing overlap; before the reference run's size is
        // known, all of it counts as compressing.
        let share = reference.isEmpty ? 0 : Double(largest.size) / Double(reference.count)
        return Observation(stage: share < 0.5 ? .compress : .write, written: largest.size)
    }

    /// The super block is written twice: a placeholder first, the real one
    /// (with the inode count) once everything else is in place.
    private func hasFinalSuperBlock(_ descriptor: ByteString) -> Bool {
        let fd = descriptor.withCString { open($0, O_RDONLY | O_CLOEXEC) }
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: SuperBlock.size)
        guard pread(fd, &bytes, bytes.count, 0) == bytes.count, let block = try? SuperBlock(bytes) else { return false }
        return block.magic == SuperBlock.magic && block.inodeCount > 0
    }

    private func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    private func shouldKill(at point: Point, _ seen: Observation, stageEntered: Double?) -> Bool {
        switch point.stage {
        case .walk:
            guard seen.stage == .walk, let stageEntered else { return seen.stage > .walk }
            return now() - stageEntered >= point.at / 1000
        case .compress, .write:
            return seen.stage >= .verify || (seen.stage >= .compress && Double(seen.written) >= point.at * Double(reference.count))
        case .verify:
            guard seen.stage == .verify, let stageEntered else { return seen.stage > .verify }
            return now() - stageEntered >= point.at * verifySeconds
        case .delete:
            guard seen.stage == .delete else { return false }
            let index = min(Int(point.at * Double(deletionOrder.count)), deletionOrder.count - 1)
            return !FS.exists(source / deletionOrder[index])
        case .startup, .finished:
            return true
        }
    }

    // MARK: - One kill

    /// Watching from outside, a busy machine can miss a short stage (the
    /// walk of 1,500 entries on a tmpfs takes a few milliseconds), and the
    /// signal then lands in a later one. Such a clean miss is tried again;
    /// a kill that left something wrong is reported at once.
    func kill(at point: Point, with signal: Int32, attempts: Int) throws -> Outcome {
        var outcome = try kill(at: point, with: signal)
        for _ in 1..<attempts where outcome.stage != point.stage && outcome.failures.isEmpty {
            print("kill points: \(point), signal \(signal) landed in \(outcome.stage); trying again")
            outcome = try kill(at: point, with: signal)
        }
        return outcome
    }

    func kill(at point: Point, with signal: Int32) throws -> Outcome {
        try reset()
        let child = try ChildProcess(try Ksqsh.binary(), command)
        var stageEntered: Double?
        var stageAtKill = Stage.finished
        while child.isRunning {
            let seen = observe(child.pid)
            if seen.stage == point.stage, stageEntered == nil { stageEntered = now() }
            if shouldKill(at: point, seen, stageEntered: stageEntered) {
                child.send(signal)
                stageAtKill = seen.stage
                break
            }
            usleep(1000)
        }
        let result = child.wait(timeout: .seconds(60))
        var failures: [String] = []
        func check(_ condition: Bool, _ message: @autoclosure () -> String) {
            if !condition { failures.append("\(point), signal \(signal), killed in \(stageAtKill): \(message())") }
        }

        if result.succeeded {
            // It finished before the signal landed: nothing was interrupted.
            return Outcome(point: point, signal: signal, stage: .finished, failures: [])
        }
        check(result.termination == .signaled(signal), "ksqsh should end by the signal: \(result)")
        if signal == SIGINT, stageAtKill >= .walk {
            check(result.stderrText.contains("ksqsh: interrupted"), "SIGINT should leave a notice saying what state is left: \(result)")
        }
        let marker = images / ".linux.sqfs.delete-source"
        let beside = (try? FS.list(images)) ?? []
        if FS.exists(image) {
            check(try FS.readFile(image) == reference, "an image at the final path must be the complete, verified one")
            let emptied = (try? FS.list(source))?.isEmpty ?? false
            check(FS.exists(marker) || emptied, "while the tree is partly deleted the marker must be there: \(beside)")
            check(beside.allSatisfy { $0 == image.lastComponent || $0 == marker.lastComponent }, "nothing else beside the image: \(beside)")
            for difference in subsetDifferences() { check(false, difference) }
        } else {
            // A marker alone: killed between writing it and naming the image; the rerun removes it.
            check(beside.isEmpty || beside == [marker.lastComponent], "no image, so nothing may be beside it (no temp files): \(beside)")
            let differences = Manifest.differences(actual: (try? Manifest.scan(source)) ?? Manifest(entries: [:]), expected: original, .exact)
            check(differences.isEmpty, "the tree must be untouched: \(differences.prefix(5))")
        }

        // The signal landed after the last entry and the marker were gone:
        // the job was done, and a rerun would rightly refuse the existing
        // image. The checks below hold as they are.
        let finishedBeforeSignal = FS.exists(image) && !FS.exists(marker) && ((try? FS.list(source))?.isEmpty ?? false)
        if !finishedBeforeSignal {
            let rerun = try Ksqsh.run(command, timeout: .seconds(120))
            check(rerun.succeeded, "the same command again must finish the job: \(rerun)")
        }
        check(((try? FS.list(source)) ?? ["(missing)"]).isEmpty, "after the rerun the tree is empty")
        check(((try? FS.list(images)) ?? []) == [image.lastComponent], "after the rerun only the image is left: \((try? FS.list(images)) ?? [])")
        check(((try? FS.readFile(image)) ?? []) == reference, "after the rerun the image is the reference image")
        return Outcome(point: point, signal: signal, stage: stageAtKill, failures: failures)
    }

    /// What is left of the tree must be part of the original, unchanged
    /// (directories may have lost entries, which changes their mtime).
    private func subsetDifferences() -> [String] {
        guard let left = try? Manifest.scan(source) else { return ["the tree cannot be scanned"] }
        var found: [String] = []
        for (path, entry) in left.entries {
            guard var expected = original[path] else {
                found.append("\(path) is not in the original tree")
                continue
            }
            if entry.type == .directory { expected.mtime = entry.mtime }
            // Link groups change when some of their names are deleted.
            var actual = entry
            actual.linkGroup = nil
            expected.linkGroup = nil
            for difference in actual.differences(from: expected, options: .exact) { found.append("\(path): \(difference)") }
        }
        return found
    }

    func report(_ outcomes: [Outcome]) {
        for outcome in outcomes {
            for failure in outcome.failures { Issue.record(Comment(rawValue: failure)) }
        }
        for stage in [Stage.walk, .compress, .write, .verify, .delete] {
            let landed = outcomes.filter { $0.stage == stage }
            let passed = landed.filter(\.failures.isEmpty).count
            let kills = landed.filter { $0.signal == SIGKILL }.count
            print("reliability-summary\tkill squash --verify --delete-source: \(stage)\t\(landed.count)\t\(passed)\t\(landed.count) kill points (SIGKILL \(kills), SIGINT \(landed.count - kills))")
            #expect(!landed.isEmpty, "no kill landed in the \(stage) stage: \(outcomes.map { "\($0.point)→\($0.stage)" })")
        }
        let missed = outcomes.filter { $0.stage == .finished || $0.stage == .startup }
        if !missed.isEmpty { print("kill points: \(missed.count) landed outside the stages: \(missed.map { "\($0.point)→\($0.stage)" })") }
    }
}
