import Testing

/// What ksqsh deletes waits until what replaces it survives a power cut.
/// Each operation runs under `strace -f -y`; `DurabilityCheck` then asks,
/// at the first unlink of the protected files, whether the replacement's
/// content, its name and every directory made for it were fsynced by then.
/// (A filesystem that does not order metadata, or /etc on another
/// filesystem than /usr/src, would otherwise keep the unlinks and may lose
/// the copy.) The first step of issue 16's crash-state checker.
@Suite(
    "Crash order: a replacement is durable before what it replaces is deleted",
    .serialized,
    .enabled(if: Subprocess.isInstalled("strace"), "needs strace (make deps installs it)")
)
struct CrashOrderTests {
    static let traced = "trace=" + [SyscallTrace.directoryCreations, SyscallTrace.renames, SyscallTrace.links, SyscallTrace.symlinks, SyscallTrace.syncs, SyscallTrace.removals]
        .flatMap { $0 }.sorted().joined(separator: ",")

    /// Runs ksqsh under strace and returns the trace, requiring success.
    private func trace(
        _ arguments: [ByteString], into file: ByteString, environment: [String: String?] = [:], timeout: Duration = .seconds(120)
    ) throws -> DurabilityCheck {
        let result = try Subprocess.run(
            "strace", ["-f", "-y", "-qq", "-o", file, "-e", ByteString(Self.traced), try Ksqsh.binary()] + arguments,
            environment: environment, timeout: timeout)
        expectCompleted(result)
        return DurabilityCheck(trace: SyscallTrace(try FS.readFile(file)))
    }

    /// Expects `replacement` durable at the first removal in `directory`,
    /// and returns whether everything held, for the summary line.
    private func expectDurable(
        _ replacement: ByteString, beforeRemovingIn directory: ByteString, after start: Int = -1, in check: DurabilityCheck,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Bool {
        guard let removal = check.firstRemoval(in: directory.string, after: start) else {
            Issue.record("nothing was removed in \(directory)", sourceLocation: sourceLocation)
            return false
        }
        let problems = check.problems(of: replacement.string, before: removal.index)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))", sourceLocation: sourceLocation)
        return problems.isEmpty
    }

    /// Expects every name made, renamed or removed to lie in `allowed`,
    /// and returns whether it did.
    private func expectConfined(_ check: DurabilityCheck, to allowed: [ByteString], sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let outside = check.changes(outside: allowed.map(\.string))
        #expect(outside.isEmpty, "changed outside \(allowed):\n\(outside.map(\.line).joined(separator: "\n"))", sourceLocation: sourceLocation)
        return outside.isEmpty
    }

    /// A build dir with a marked `.config` and an object, as clean and postrm find it.
    private func rootWithBuildDirectory(_ label: String) throws -> LifecycleRoot {
        let root = try LifecycleRoot(label)
        try root.writeConfiguredBuildDirectory(marker: "durable")
        return root
    }

    /// What clean and the unmerge hook both owe: the build dir gone, its
    /// marked `.config` saved and durable before the build dir's first
    /// unlink, nothing touched outside the build dir, etc/ and the lock.
    private func expectSavedBeforeRemoval(_ root: LifecycleRoot, in check: DurabilityCheck, scenario: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let build = root.buildDirectory()
        #expect(!FS.exists(build) && KernelConfig.localVersion(of: root.savedConfig()) == "-durable", sourceLocation: sourceLocation)
        let held = expectDurable(root.savedConfig(), beforeRemovingIn: build, in: check, sourceLocation: sourceLocation)
        let confined = expectConfined(check, to: [build, root["etc"], root["run/lock"]], sourceLocation: sourceLocation)
        print("reliability-summary\tcrash order: \(scenario)\t2\t\((held ? 1 : 0) + (confined ? 1 : 0))\tsaved .config durable before the build dir's first unlink; nothing else touched")
    }

    @Test("clean on a root without etc/: the saved .config, its name and the directories made for it, before the build dir's first unlink")
    func clean() throws {
        let root = try rootWithBuildDirectory("crash-order-clean")
        defer { root.tearDown() }

        let check = try trace(["clean", "--root", root.path, "--kernel", LifecycleRoot.version], into: root["strace.out"])
        expectSavedBeforeRemoval(root, in: check, scenario: "clean")
    }

    @Test("post_pkg_postrm (unmerge): the same order through the hook, with portage's variables")
    func unmergeHook() throws {
        let root = try rootWithBuildDirectory("crash-order-postrm")
        defer { root.tearDown() }
        let environment: [String: String?] = [
            "ROOT": root.path.string + "/", "EROOT": root.path.string + "/", "KV_FULL": LifecycleRoot.version.string,
            "PN": "gentoo-sources", "PVR": "6.12.10", "KSQSH_CONFIG": root["etc/ksqsh.conf"].string,
        ]
        let check = try trace(["hook", "--interface", "1", "post_pkg_postrm"], into: root["strace.out"], environment: environment)
        expectSavedBeforeRemoval(root, in: check, scenario: "post_pkg_postrm")
    }

    @Test("installkernel: the saved .config is durable when ksqsh exits (eclean-kernel may delete the build dir next); slim never touches .config")
    func installkernelAndSlim() throws {
        let root = try LifecycleRoot("crash-order-installkernel")
        defer { root.tearDown() }
        try BuiltDirectory.make(in: root)
        let build = root.buildDirectory()
        let environment: [String: String?] = ["KSQSH_CONFIG": root["etc/ksqsh.conf"].string, "KSQSH_SLIM": "yes"]
        let check = try trace(
            ["installkernel", "--root", root.path, ByteString(BuiltDirectory.release), "/boot/vmlinuz"], into: root["strace.out"], environment: environment)
        #expect(FS.exists(root.savedConfig()) && !FS.exists(build / "vmlinux"), "saved, then slimmed")
        let problems = check.problems(of: root.savedConfig().string)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        let config = (build / ".config").string
        let touchingConfig = check.trace.calls.filter { $0.paths.contains(config) }
        #expect(touchingConfig.isEmpty, "slim touched .config: \(touchingConfig)")
        let confined = expectConfined(check, to: [build, root["etc"], root["run/lock"]])
        let passed = (problems.isEmpty ? 1 : 0) + (touchingConfig.isEmpty ? 1 : 0) + (confined ? 1 : 0)
        print("reliability-summary\tcrash order: installkernel + slim\t3\t\(passed)\tsaved .config durable at exit; slim never touches .config; nothing else touched")
    }

    @Test("hooks install: every file it writes, the unit's enabling link too, is durable when it exits, and nothing outside etc/ changes")
    func hooksInstall() throws {
        let root = try TemporaryDirectory("crash-order-hooks")
        defer { root.remove() }
        let check = try trace(["hooks", "install", "--root", root.path, "--init", "both", "--helper", "/usr/local/bin/ksqsh"], into: root["strace.out"])
        let written = ["etc/portage/env/sys-kernel/gentoo-sources", "etc/kernel/postinst.d/90-ksqsh", "etc/local.d/ksqsh.start", "etc/local.d/ksqsh.stop",
                       "etc/systemd/system/ksqsh-mount.service", "etc/systemd/system/local-fs.target.wants/ksqsh-mount.service"].map { root[ByteString($0)].string }
        var held = 0
        for path in written {
            let problems = check.problems(of: path)
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
            held += problems.isEmpty ? 1 : 0
        }
        let confined = expectConfined(check, to: [root["etc"]])
        print("reliability-summary\tcrash order: hooks install\t\(written.count + 1)\t\(held + (confined ? 1 : 0))\tevery file and the enabling link durable at exit; nothing outside etc/")
    }

    @Test("squash --delete-source: the verified image (an O_TMPFILE linked into place) and its name, before the first unlink in the tree")
    func squashDeleteSource() throws {
        let scratch = try TemporaryDirectory("crash-order-squash")
        defer { scratch.remove() }
        let tree = scratch["new/tree"]
        for index in 0..<20 { try FS.mkdirs(tree / ByteString("d\(index % 4)")); try FS.writeFile(tree / ByteString("d\(index % 4)/f\(index)"), Array(repeating: UInt8(index), count: 3000 * index)) }
        let image = scratch["images/linux.sqfs"]
        try FS.mkdirs(scratch["images"])

        let check = try trace(["squash", tree, image, "--verify", "--delete-source", "--quiet"], into: scratch["strace.out"])
        #expect(!FS.exists(tree / "d0"))
        let held = expectDurable(image, beforeRemovingIn: tree, in: check)
        let confined = expectConfined(check, to: [tree, scratch["images"]])
        print("reliability-summary\tcrash order: squash --delete-source\t2\t\((held ? 1 : 0) + (confined ? 1 : 0))\timage content and name durable before the tree's first unlink; nothing else touched")
    }

    @Test(
        "adopt --mrproper: the saved .config before make mrproper's first unlink, the image before the tree is emptied",
        .enabled(if: LifecycleRequirements.hasKernelBuildTools, "needs make, gcc, flex and bison for the kernel's make")
    )
    func adopt() throws {
        let root = try LifecycleRoot("crash-order-adopt")
        defer { root.tearDown() }
        let tree = root.mountPoint()
        try copyTree(KernelSkeleton.kconfig.tree(), to: tree)
        try FS.writeFile(tree / ".config", KernelConfig.withMarker("adopted"))
        try kernelMake(tree, "olddefconfig")

        // The compiler's temporaries (the kernel's make builds its host programs) go to a TMPDIR of their own.
        let temporary = root["tmp"]
        try FS.mkdirs(temporary)
        let check = try trace(
            ["adopt", "--root", root.path, "--kernel", LifecycleRoot.version, "--mrproper", "--quiet"], into: root["strace.out"],
            environment: ["TMPDIR": temporary.string], timeout: .seconds(300))
        #expect(root.isMounted(), "adopted: the tree dir is the image's mount")
        let configHeld = expectDurable(root.savedConfig(), beforeRemovingIn: tree, in: check)
        let imageNamed = try #require(check.naming(of: root.image().string), "the image is linked into place")
        let imageHeld = expectDurable(root.image(), beforeRemovingIn: tree, after: imageNamed.index, in: check)
        let confined = expectConfined(check, to: [root.sources, root["etc"], root["run/lock"], temporary])
        let passed = (configHeld ? 1 : 0) + (imageHeld ? 1 : 0) + (confined ? 1 : 0)
        print("reliability-summary\tcrash order: adopt --mrproper\t3\t\(passed)\tsaved .config before mrproper, image before emptying the tree; nothing outside usr/src, etc")
    }
}
