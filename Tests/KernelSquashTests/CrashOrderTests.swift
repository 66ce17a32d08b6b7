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
    static let traced = "trace=mkdir,mkdirat,rename,renameat,renameat2,link,linkat,fsync,fdatasync,unlink,unlinkat,rmdir"

    /// Runs ksqsh under strace and returns the trace, requiring success.
    private func trace(_ arguments: [ByteString], into file: ByteString, timeout: Duration = .seconds(120)) throws -> DurabilityCheck {
        let result = try Subprocess.run("strace", ["-f", "-y", "-qq", "-o", file, "-e", ByteString(Self.traced), try Ksqsh.binary()] + arguments, timeout: timeout)
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

    @Test("clean on a root without etc/: the saved .config, its name and the directories made for it, before the build dir's first unlink")
    func clean() throws {
        let root = try LifecycleRoot("crash-order-clean")
        defer { root.tearDown() }
        let build = root.buildDirectory()
        try root.write(build / ".config", KernelConfig.withMarker("durable"))
        try root.write(build / "kernel/fork.o", [1])

        let check = try trace(["clean", "--root", root.path, "--kernel", LifecycleRoot.version], into: root["strace.out"])
        #expect(KernelConfig.localVersion(of: root.savedConfig()) == "-durable")
        let held = expectDurable(root.savedConfig(), beforeRemovingIn: build, in: check)
        print("reliability-summary\tcrash order: clean\t1\t\(held ? 1 : 0)\tsaved .config durable before the build dir's first unlink")
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
        print("reliability-summary\tcrash order: squash --delete-source\t1\t\(held ? 1 : 0)\timage content and name durable before the tree's first unlink")
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

        let check = try trace(["adopt", "--root", root.path, "--kernel", LifecycleRoot.version, "--mrproper", "--quiet"], into: root["strace.out"], timeout: .seconds(300))
        #expect(root.isMounted(), "adopted: the tree dir is the image's mount")
        let configHeld = expectDurable(root.savedConfig(), beforeRemovingIn: tree, in: check)
        let imageNamed = try #require(check.naming(of: root.image().string), "the image is linked into place")
        let imageHeld = expectDurable(root.image(), beforeRemovingIn: tree, after: imageNamed.index, in: check)
        print("reliability-summary\tcrash order: adopt --mrproper\t2\t\((configHeld ? 1 : 0) + (imageHeld ? 1 : 0))\tsaved .config before mrproper, image before emptying the tree")
    }
}
