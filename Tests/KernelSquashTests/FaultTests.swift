import Glibc
import Testing

/// Faults from outside while ksqsh works: the image deleted or replaced
/// under its mount, a mount kept busy by an open file, the build dir's
/// filesystem full during prepare, a source file removed mid-walk, and a
/// kernel I/O error on read. Each ends with sources intact, no partial
/// image, no temp files, one clear line, a non-zero status, and a rerun that
/// succeeds once the fault is gone. The FIFO in SRC and the file truncated
/// mid-read are in ErrorCaseTests; a mount busy through a working directory
/// is in LifecycleUmountTests.
@Suite(
    "Faults from outside", .serialized, .hangGuard,
    .enabled(if: Requirements.isRoot && Mounts.canLoopMount, "needs root and loop devices"))
struct FaultTests {
    static let version = LifecycleRoot.version

    // MARK: the image under a mount

    @Test("The image deleted while mounted: status says so, mount refuses, umount still works and removes nothing else")
    func imageDeletedWhileMounted() throws {
        try FaultScenario.run("image deleted while mounted", detail: "status, mount, umount, remount") { checks in
            let root = try LifecycleRoot("fault-deleted")
            defer { root.tearDown() }
            let image = try root.installImage()
            let copy = try FS.readFile(image)
            checks.completed(try root.ksqsh("mount", kernel: Self.version), "mount")
            try root.write(root.buildDirectory() / ".config", KernelConfig.withMarker("kept"))
            try FS.unlink(image)

            let status = try root.ksqsh("status", ["--json"])
            let problems = (try? StatusReport.decode(status))?[Self.version.string]?.problems ?? []
            checks.expect(problems.contains { $0.contains("deleted") || $0.contains("not from its image") }, "status must report the mount of a deleted image: \(status)")

            let before = try root.snapshot()
            let mount = try root.ksqsh("mount", kernel: Self.version)
            checks.refused(mount, exit: Ksqsh.Exit.mountFailed, naming: root.image(), root: root, before: before)

            let umount = try root.ksqsh("umount", kernel: Self.version)
            checks.completed(umount, "umount of the deleted image's mount")
            checks.expect(root.mounts.isEmpty, "still mounted: \(root.mounts)")
            checks.expect(LoopDevices.attached(to: image).isEmpty, "a loop device still holds the deleted image")
            checks.expect(KernelConfig.localVersion(of: root.buildDirectory() / ".config") == "-kept", "the build dir's .config must stay")

            try FS.writeFile(image, copy)
            checks.completed(try root.ksqsh("mount", kernel: Self.version), "mount after the image is back")
            checks.expect(root.isMounted(), "the restored image is not mounted")
        }
    }

    @Test("The image replaced while mounted: status says so, mount refuses, umount works and keeps the new image")
    func imageReplacedWhileMounted() throws {
        try FaultScenario.run("image replaced while mounted", detail: "status, mount, umount, remount") { checks in
            let root = try LifecycleRoot("fault-replaced")
            defer { root.tearDown() }
            let image = try root.installImage()
            checks.completed(try root.ksqsh("mount", kernel: Self.version), "mount")
            // What portage does on a reinstall: the new file is renamed over the old.
            let staged = root.sources / ".new-image"
            try FS.writeFile(staged, try FS.readFile(try KernelSkeleton.modules.image()))
            try FS.rename(staged, image)
            let replacement = try FS.lstat(image)

            let status = try root.ksqsh("status", ["--json"])
            let problems = (try? StatusReport.decode(status))?[Self.version.string]?.problems ?? []
            checks.expect(!problems.isEmpty, "status must report that the mount is not from the current image: \(status)")

            let before = try root.snapshot()
            let mount = try root.ksqsh("mount", kernel: Self.version)
            checks.refused(mount, exit: Ksqsh.Exit.mountPointOccupied, naming: root.mountPoint(), root: root, before: before)

            checks.completed(try root.ksqsh("umount", kernel: Self.version), "umount of the replaced image's mount")
            checks.expect(root.mounts.isEmpty, "still mounted: \(root.mounts)")
            let now = try FS.lstat(image)
            checks.expect(now.st_ino == replacement.st_ino && now.st_size == replacement.st_size, "the new image must be left as it is")

            checks.completed(try root.ksqsh("mount", kernel: Self.version), "mount of the new image")
            checks.expect(root.isMounted(), "the new image is not mounted")
        }
    }

    @Test("A mount kept busy by an open file: 65 naming the process, the mount intact; umount works once it is closed")
    func busyThroughAnOpenFile() throws {
        try FaultScenario.run("mount busy at unmount", detail: "a file held open inside") { checks in
            let root = try LifecycleRoot("fault-busy")
            defer { root.tearDown() }
            try root.installImage()
            checks.completed(try root.ksqsh("mount", kernel: Self.version), "mount")
            // `sleep` with the file as its stdin: busy through an open file, not a working directory.
            let file = root.mountPoint() / "Makefile"
            let holder = try ChildProcess("bash", ["-c", "exec sleep 30 <\"$1\"", "bash", file])
            defer { holder.send(SIGKILL); _ = holder.wait(timeout: .seconds(10)) }
            let deadline = ContinuousClock.now + .seconds(5)
            while (try? FS.readlink(ByteString("/proc/\(holder.pid)/fd/0"))) != file, ContinuousClock.now < deadline { usleep(10_000) }

            let before = try root.snapshot()
            let busy = try root.ksqsh("umount", kernel: Self.version)
            checks.refused(busy, exit: Ksqsh.Exit.mountBusy, naming: root.mountPoint(), root: root, before: before)
            checks.expect(busy.stderrText.contains("\(holder.pid)"), "stderr must name the holder's pid \(holder.pid): \(busy)")
            checks.expect(root.isMounted(), "a busy mount must stay mounted")

            holder.send(SIGKILL)
            _ = holder.wait(timeout: .seconds(10))
            checks.completed(try root.ksqsh("umount", kernel: Self.version), "umount once the file is closed")
            checks.expect(root.mounts.isEmpty, "still mounted: \(root.mounts)")
        }
    }

    // MARK: prepare on a full filesystem

    @Test(
        "The build dir's filesystem full during prepare: a clear failure, the .config kept, and a rerun with space succeeds",
        .enabled(if: LifecycleRequirements.hasKernelBuildTools, "needs make, gcc, flex and bison"))
    func buildDirectoryFull() throws {
        try FaultScenario.run("build dir full during prepare", detail: "tmpfs filled, then enlarged") { checks in
            let root = try LifecycleRoot("fault-full")
            defer { root.tearDown() }
            try root.installImage()
            let build = root.buildDirectory()
            try FS.mkdir(build)
            try Subprocess.runChecked("mount", ["-t", "tmpfs", "-o", "size=256k,mode=0755", "tmpfs", build])
            let config = KernelConfig.withMarker("full")
            try FS.writeFile(build / ".config", config)
            try Self.fill(build / "filler")

            let failed = try root.ksqsh("prepare", kernel: Self.version)
            checks.expect(failed.exitCode.map { [Ksqsh.Exit.noSpace, Ksqsh.Exit.buildFailed].contains($0) } ?? false, "expected exit 23 or 68: \(failed)")
            let last = failed.stderrLines.last.map(String.init) ?? ""
            checks.expect(last.hasPrefix("ksqsh: ") && last.contains(build.string), "ksqsh's own line must come last and name \(build): \(failed)")
            checks.expect(!failed.stderrText.contains("Fatal error"), "crash trace: \(failed)")
            checks.expect((try? FS.readFile(build / ".config")) == config, "the existing .config must be kept as it was")
            let leftovers = ((try? FS.list(build)) ?? []).filter { $0.string.contains("ksqsh") }
            checks.expect(leftovers.isEmpty, "temp files left in the build dir: \(leftovers)")

            try FS.unlink(build / "filler")
            try Subprocess.runChecked("mount", ["-o", "remount,size=256m", build])
            let rerun = try root.ksqsh("prepare", kernel: Self.version)
            checks.completed(rerun, "prepare once there is space")
            checks.expect(KernelConfig.localVersion(of: build / ".config") == "-full", "the rerun must start from the kept .config")
        }
    }

    /// Writes zeros until the filesystem is full.
    static func fill(_ path: ByteString) throws {
        let fd = path.withCString { open($0, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw TestSetupError.syscall("open", path) }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 4096)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress!, $0.count) }) > 0 {}
        guard errno == ENOSPC else { throw TestSetupError.syscall("write", path) }
    }

    // MARK: sources that fail while being read

    @Test(
        "A source file removed mid-walk exits 13 naming it: no image, no temp files, SRC otherwise untouched; the rerun succeeds",
        .enabled(if: FS.exists("/proc/self/fd"), "needs /proc to see when ksqsh has a file open"))
    func fileRemovedMidWalk() throws {
        try FaultScenario.run("file removed mid-walk", detail: "removed after the scan, before its read") { checks in
            let work = try Workspace("fault-removed")
            defer { work.remove() }
            let source = work.source
            try FS.mkdir(source)
            let first = source / "aa-large.bin"
            try FS.writeFile(first, Content.random(16 << 20, seed: 77))
            try FS.writeFile(source / "zz-victim", Array("read last\n".utf8))
            let firstPath = FS.realPath(first) ?? first

            // Stop ksqsh while it reads the first file, remove the last one, let it go on.
            let child = try ChildProcess(try Ksqsh.binary(), ["squash", source, work.image, "--jobs", "1", "--block-size", "4K", "--quiet"])
            var removed = false
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, child.isRunning, !removed {
                if ErrorCaseTests.openDescriptor(of: child.pid, for: firstPath) != nil {
                    child.send(SIGSTOP)
                    try FS.unlink(source / "zz-victim")
                    removed = true
                    child.send(SIGCONT)
                }
                usleep(500)
            }
            let result = child.wait(timeout: .seconds(90))
            guard removed else { try Test.cancel("could not catch ksqsh reading \(first): \(result)") }
            let remaining = try Manifest.scan(source)
            checks.failedCleanly(result, exit: Ksqsh.Exit.sourceChanged, naming: "zz-victim", image: work.image)
            checks.expect((try? Manifest.scan(source)).map { Manifest.differences(actual: $0, expected: remaining, .exact).isEmpty } ?? false, "SRC must be untouched")

            checks.completed(try Ksqsh.squash(source, work.image), "squash rerun")
            checks.completed(try Ksqsh.verify(work.image, against: source), "verify of the rerun's image")
        }
    }

    @Test(
        "A kernel I/O error reading a source file (a squashfs source with a damaged block) exits 12 naming it; the rerun on a good copy succeeds",
        .enabled(if: Requirements.hasRdsquashfs, "needs rdsquashfs (squashfs-tools-ng) to find the block"))
    func ioErrorOnRead() throws {
        try FaultScenario.run("I/O error on read", detail: "EIO from a damaged squashfs block") { checks in
            let work = try Workspace("fault-eio")
            defer { work.remove() }
            let tree = work["tree"]
            try FS.mkdir(tree)
            try FS.writeFile(tree / "aa-good.txt", Array("readable\n".utf8))
            try FS.writeFile(tree / "victim.txt", Content.text(256 << 10, seed: 12))
            try FS.writeFile(tree / "zz-good.txt", Array("readable too\n".utf8))
            let good = work["good.sqfs"]
            // 64 KiB blocks: the file gets whole data blocks of its own, not only a fragment.
            try Ksqsh.squashChecked(tree, good, ["--block-size", "64K"])
            let damaged = work["damaged.sqfs"]
            var bytes = try FS.readFile(good)
            let victim = try Rdsquashfs.stat(good, "/victim.txt")
            guard let start = Int(victim["Blocks start"] ?? ""), Int(victim["Block count"] ?? "") ?? 0 > 0 else {
                throw TestSetupError("rdsquashfs does not show data blocks for victim.txt: \(victim)")
            }
            for offset in start + 64..<start + 96 { bytes[offset] ^= 0x5A }
            try FS.writeFile(damaged, bytes)

            let mountPoint = work["source"]
            try FS.mkdir(mountPoint)
            try Mounts.withImage(damaged, at: mountPoint) {
                let before = try FS.list(work.imageDirectory)
                let result = try Ksqsh.squash(mountPoint, work.image)
                checks.failedCleanly(result, exit: Ksqsh.Exit.sourceUnreadable, naming: "victim.txt", image: work.image)
                checks.expect(result.stderrText.contains("Input/output error"), "the line should give the cause (EIO): \(result)")
                checks.expect((try? FS.list(work.imageDirectory)) == before, "temp files left beside IMAGE")
            }
            try Mounts.withImage(good, at: mountPoint) {
                checks.completed(try Ksqsh.squash(mountPoint, work.image), "squash of the good copy")
                checks.completed(try Ksqsh.verify(work.image, against: tree), "the rerun's image against the original tree")
            }
        }
    }

    @Test(
        "A device-mapper error target under a source file: exit 12 naming it, no image",
        .enabled(if: DeviceMapper.isAvailable, "device-mapper is not available in this kernel (no dm-mod): dm-error not tried"))
    func ioErrorFromDeviceMapper() throws {
        try FaultScenario.run("I/O error on read (dm-error)", detail: "dm error target under one file") { checks in
            let work = try Workspace("fault-dm")
            defer { work.remove() }
            let device = try DeviceMapper.fileSystemWithFailingFile(in: work, name: "victim.bin")
            defer { device.tearDown() }
            let result = try Ksqsh.squash(device.mountPoint, work.image)
            checks.failedCleanly(result, exit: Ksqsh.Exit.sourceUnreadable, naming: "victim.bin", image: work.image)
            checks.expect(try FS.list(work.imageDirectory).isEmpty, "temp files left beside IMAGE")
        }
    }
}

/// One scenario's checks, collected so the suite can print how it went.
struct FaultScenario {
    private(set) var problems: [String] = []

    /// Runs `body`, records every problem as an issue, and prints the
    /// scenario's reliability-summary line (1 case; passed if no problem).
    static func run(_ name: String, detail: String, _ body: (inout FaultScenario) throws -> Void) throws {
        var scenario = FaultScenario()
        do {
            try body(&scenario)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            scenario.problems.append("stopped by: \(error)")
        }
        for problem in scenario.problems { Issue.record(Comment(rawValue: problem)) }
        print("reliability-summary\tfault: \(name)\t1\t\(scenario.problems.isEmpty ? 1 : 0)\t\(detail)")
    }

    mutating func expect(_ condition: Bool, _ problem: @autoclosure () -> String) {
        if !condition { problems.append(problem()) }
    }

    mutating func completed(_ result: ProcessResult, _ what: String) {
        expect(result.succeeded, "\(what) failed: \(result)")
    }

    /// The lifecycle contract: the status, one line naming `path`, nothing under ROOT changed.
    mutating func refused(_ result: ProcessResult, exit: Int32, naming path: ByteString, root: LifecycleRoot, before: RootSnapshot) {
        expect(result.exitCode == exit, "expected exit \(exit): \(result)")
        expect(result.stderrLines.count == 1 && result.stderr.firstIndex(of: path.bytes) != nil, "one line naming \(path): \(result)")
        let changes = (try? root.snapshot()).map { before.changes(to: $0) } ?? [("?", "ROOT can no longer be listed")]
        expect(changes.isEmpty, "ROOT changed:\n\(RootSnapshot.describe(changes))")
    }

    /// The squash contract: the status, one line naming `name`, no IMAGE.
    mutating func failedCleanly(_ result: ProcessResult, exit: Int32, naming name: ByteString, image: ByteString) {
        expect(!result.timedOut, "hung: \(result)")
        expect(result.exitCode == exit, "expected exit \(exit): \(result)")
        expect(result.stderrLines.count == 1 && result.stderr.firstIndex(of: name.bytes) != nil, "one line naming \(name): \(result)")
        expect(!FS.exists(image), "a partial IMAGE was left at \(image)")
    }
}
