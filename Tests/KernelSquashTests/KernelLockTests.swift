import Glibc
import Testing

/// Two ksqsh processes on the same kernel version take turns through
/// ROOT/run/lock/ksqsh/linux-KV.lock: racing mounts give exactly one mount,
/// a mount racing an unmount leaves one consistent state, and a lock held
/// past KSQSH_LOCK_TIMEOUT is reported with exit status 69.
@Suite(
    "A lock per kernel version", .serialized, .hangGuard,
    .enabled(if: Mounts.canLoopMount, "needs root and loop devices to mount images")
)
struct KernelLockTests {
    static let rounds = 4
    static let lockedExit: Int32 = 69

    /// Starts every command at once and waits for all of them.
    private static func race(_ commands: [[ByteString]], environment: [String: String?] = [:]) throws -> [ProcessResult] {
        let children = try commands.map { try ChildProcess(try Ksqsh.binary(), $0, environment: environment) }
        return children.map { $0.wait(timeout: .seconds(120)) }
    }

    /// Exactly one squashfs at linux-KV from the image and one loop device
    /// on it, or (when `mounted` is false) none of either.
    private static func consistencyProblems(_ root: LifecycleRoot, _ version: ByteString, mounted: Bool) -> [String] {
        let stacked = root.mounts(at: root.mountPoint(version))
        let loops = LoopDevices.attached(to: root.image(version))
        var problems: [String] = []
        if stacked.count != (mounted ? 1 : 0) { problems.append("\(stacked.count) mounts at \(root.mountPoint(version)): \(stacked)") }
        if loops.count != (mounted ? 1 : 0) { problems.append("\(loops.count) loop devices on the image: \(loops)") }
        if mounted && !root.isMounted(version) { problems.append("linux-KV is not the image's mount: \(stacked)") }
        return problems
    }

    private static func summarize(_ scenario: String, tried: Int, passed: Int, _ detail: String) {
        print("reliability-summary\t\(scenario)\t\(tried)\t\(passed)\t\(detail)")
    }

    @Test("ksqsh mount twice at once, and mount --all racing mount --kernel: both exit 0, exactly one mount")
    func racingMounts() throws {
        let root = try LifecycleRoot("lock-mounts")
        defer { root.tearDown() }
        let version = LifecycleRoot.version
        try root.installImage(version)
        let mount: [ByteString] = ["mount", "--root", root.path, "--kernel", version]
        let mountAll: [ByteString] = ["mount", "--root", root.path, "--all"]

        for (scenario, commands) in [("lock: mount x2", [mount, mount]), ("lock: mount --all vs mount --kernel", [mountAll, mount])] {
            var passed = 0
            for round in 1...Self.rounds {
                let results = try Self.race(commands)
                for result in results { #expect(result.succeeded, "\(scenario), round \(round): \(result)") }
                let problems = Self.consistencyProblems(root, version, mounted: true)
                #expect(problems.isEmpty, "\(scenario), round \(round): \(problems)")
                let said = results.map(\.stdoutText).joined()
                #expect(said.contains("already mounted"), "\(scenario), round \(round): the second one saw the first one's mount: \(said)")
                if results.allSatisfy(\.succeeded) && problems.isEmpty { passed += 1 }
                expectSuccess(try root.ksqsh("umount", kernel: version))
            }
            Self.summarize(scenario, tried: Self.rounds, passed: passed, "\(Self.rounds) rounds, one mount each")
        }
    }

    @Test("ksqsh mount racing ksqsh umount: both exit 0, and the version is either mounted once or not at all")
    func mountRacingUmount() throws {
        let root = try LifecycleRoot("lock-umount")
        defer { root.tearDown() }
        let version = LifecycleRoot.version
        try root.installImage(version)
        var passed = 0
        var endedMounted = 0
        for round in 1...Self.rounds * 2 {
            // Every other round starts mounted, so the unmount has something to do.
            if round % 2 == 0 { expectSuccess(try root.ksqsh("mount", kernel: version)) }
            let results = try Self.race([
                ["mount", "--root", root.path, "--kernel", version],
                ["umount", "--root", root.path, "--kernel", version],
            ])
            for result in results { #expect(result.succeeded, "round \(round): \(result)") }
            let mounted = !root.mounts(at: root.mountPoint(version)).isEmpty
            let problems = Self.consistencyProblems(root, version, mounted: mounted)
            #expect(problems.isEmpty, "round \(round): \(problems)")
            if results.allSatisfy(\.succeeded) && problems.isEmpty { passed += 1 }
            if mounted { endedMounted += 1 }
            expectSuccess(try root.ksqsh("umount", kernel: version))
        }
        Self.summarize("lock: mount vs umount", tried: Self.rounds * 2, passed: passed, "\(Self.rounds * 2) rounds, \(endedMounted) ended mounted")
    }

    @Test("a lock held elsewhere: ksqsh waits and then goes on, or gives up after KSQSH_LOCK_TIMEOUT with exit 69 and changes nothing")
    func heldLock() throws {
        let root = try LifecycleRoot("lock-held")
        defer { root.tearDown() }
        let version = LifecycleRoot.version
        try root.installImage(version)
        let directory = root["run/lock/ksqsh"]
        let lockFile = directory / ("linux-" + version + ".lock")
        try FS.mkdirs(directory)
        let fd = lockFile.withCString { open($0, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(flock(fd, LOCK_EX) == 0)
        var passed = 0

        let timedOut = try Ksqsh.run(["mount", "--root", root.path, "--kernel", version], environment: ["KSQSH_LOCK_TIMEOUT": "0.5"])
        #expect(timedOut.exitCode == Self.lockedExit, "\(timedOut)")
        #expect(timedOut.stderrLines.last?.contains(lockFile.string) == true, "the error names the lock file: \(timedOut)")
        #expect(timedOut.duration >= .milliseconds(500))
        #expect(root.mounts(at: root.mountPoint(version)).isEmpty, "nothing was mounted")
        if timedOut.exitCode == Self.lockedExit { passed += 1 }

        // Released while a second one waits: it goes on and mounts.
        let waiting = try ChildProcess(try Ksqsh.binary(), ["mount", "--root", root.path, "--kernel", version])
        // Once it has the lock file open it is at most one retry from
        // announcing the wait; a slow start must not pass for "no wait".
        let lockTarget = FS.realPath(lockFile) ?? lockFile
        let opened = ContinuousClock.now + .seconds(30)
        while waiting.isRunning, ErrorCaseTests.openDescriptor(of: waiting.pid, for: lockTarget) == nil, ContinuousClock.now < opened {
            usleep(1_000)
        }
        usleep(300_000)
        #expect(waiting.isRunning, "ksqsh waits for the lock")
        flock(fd, LOCK_UN)
        let waited = waiting.wait(timeout: .seconds(60))
        expectSuccess(waited)
        #expect(waited.stderrText.contains("waiting for"), "it said what it waits for: \(waited)")
        #expect(Self.consistencyProblems(root, version, mounted: true).isEmpty)
        if waited.succeeded { passed += 1 }
        expectSuccess(try root.ksqsh("umount", kernel: version))

        // A lock directory others can write is refused, not used.
        try FS.chmod(directory, 0o777)
        let unsafe = try root.ksqsh("mount", kernel: version)
        #expect(unsafe.exitCode == Self.lockedExit, "\(unsafe)")
        #expect(unsafe.stderrText.contains(directory.string), "\(unsafe)")
        if unsafe.exitCode == Self.lockedExit { passed += 1 }
        Self.summarize("lock: held elsewhere", tried: 3, passed: passed, "timeout exit 69, wait then mount, unsafe directory refused")
    }
}
