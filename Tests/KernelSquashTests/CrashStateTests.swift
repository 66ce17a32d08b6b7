import Testing

/// Issue 16: no power cut at any instant loses the sources, the image, a
/// `.config` or a file ksqsh did not write, and the same command run again
/// afterwards finishes the job. `CrashStateCheck` traces each operation,
/// builds the worst states a power cut at every point may leave
/// (`CrashModel` states the model), checks invariants (a)–(c) on them, and
/// recovers each distinct state for real for (d).
@Suite(
    "Crash states: every point of every writer, under a power cut",
    .serialized, .hangGuard,
    .enabled(if: Subprocess.isInstalled("strace"), "needs strace (make deps installs it)")
)
struct CrashStateTests {
    /// Twenty files in four directories, the sizes apart so no two blocks match.
    private func smallTree(at tree: ByteString) throws {
        for index in 0..<20 {
            try FS.mkdirs(tree / ByteString("d\(index % 4)"))
            try FS.writeFile(tree / ByteString("d\(index % 4)/f\(index)"), (0..<(700 * index + 1)).map { UInt8(truncatingIfNeeded: $0 * (index + 3)) })
        }
        try FS.symlink(target: "d0/f0", at: tree / "link")
    }

    @Test("squash --verify --delete-source: the tree or its verified image at every point; a rerun finishes from each")
    func squashDeleteSource() throws {
        let scratch = try TemporaryDirectory("crash-state-squash")
        defer { scratch.remove() }
        let root = FS.realPath(scratch.path)!
        try smallTree(at: root / "src")
        try FS.mkdirs(root / "images")
        try FS.writeFile(root / "images/notes.txt", Array("not ksqsh's\n".utf8))
        // The tree as it was, times and all (the image records them).
        let master = try TemporaryDirectory("crash-state-squash-master")
        defer { master.remove() }
        try copyTree(root / "src", to: master["tree"])

        var check = CrashStateCheck(
            scenario: "squash --delete-source", root: root,
            command: ["squash", root / "src", root / "images/linux.sqfs", "--verify", "--delete-source", "--quiet"])
        let initial = try check.initialState()
        check.environment = ["SOURCE_DATE_EPOCH": "1700000000"]
        let holdsTree = try ImageAcceptance(tree: master["tree"])
        check.invariants = [
            .sourcesKept(tree: "src", initial: initial, image: "images/linux.sqfs", accepted: holdsTree),
            .othersKept(initial: initial, allowed: ["src", "images/linux.sqfs", "images/.linux.sqfs.delete-source"]),
        ]
        // Left for the resume: the verified image, its marker, half the tree.
        check.leaving = { state in
            state.bytes(at: "images/.linux.sqfs.delete-source") != nil && state.bytes(at: "images/linux.sqfs").map(holdsTree.accepts) == true
                && state.paths(below: "src").count > 5 && state.paths(below: "src").count < initial.paths(below: "src").count - 5
        }
        let outcome = try check.run()
        #expect(outcome.finished.bytes(at: "images/linux.sqfs").map(holdsTree.accepts) == true, "the run's image holds the tree")
        let left = try CrashState.read(root).paths(below: "src").count
        try #require(FS.exists(root / "images/.linux.sqfs.delete-source") && left > 5, "a deletion cut short is left to resume")

        var resume = check
        resume.scenario = "squash --delete-source, resumed"
        resume.leaving = nil
        try resume.run()
    }

    @Test("squash --force over an existing image: the old image or the new one at every point, no hidden copy left; a rerun finishes from each")
    func squashForce() throws {
        let scratch = try TemporaryDirectory("crash-state-force")
        defer { scratch.remove() }
        let root = FS.realPath(scratch.path)!
        try smallTree(at: root / "src")
        try FS.mkdirs(root / "images")
        let image = root / "images/linux.sqfs"
        expectSuccess(try Ksqsh.run(["squash", root / "src", image, "--quiet"]))
        try FS.writeFile(root / "src/d1/added.c", Array("int added;\n".utf8))
        let master = try TemporaryDirectory("crash-state-force-master")
        defer { master.remove() }
        try copyTree(root / "src", to: master["tree"])
        let holdsNewTree = try ImageAcceptance(tree: master["tree"])

        var check = CrashStateCheck(scenario: "squash --force", root: root, command: ["squash", root / "src", image, "--force", "--quiet"])
        check.environment = ["SOURCE_DATE_EPOCH": "1700000000"]
        let initial = try check.initialState()
        let old = try #require(initial.bytes(at: "images/linux.sqfs"))
        check.invariants = [
            CrashStateCheck.Invariant(name: "a") { state in
                state.bytes(at: "images/linux.sqfs").map { $0 == old || holdsNewTree.accepts($0) } == true ? [] : ["neither the old image nor the new one at images/linux.sqfs"]
            },
            .othersKept(initial: initial, allowed: ["images/linux.sqfs"]),
        ]
        try check.run()
    }

    @Test("clean: the build dir's .config in the build dir or in etc/kernels at every point; a rerun finishes from each")
    func clean() throws {
        let root = try LifecycleRoot("crash-state-clean")
        defer { root.tearDown() }
        try root.writeConfiguredBuildDirectory(marker: "crash")
        try root.write(root.buildDirectory() / "include/generated/autoconf.h", Array("#define X 1\n".utf8))
        try root.write(root["etc/kernels/kernel-config-6.1.1-gentoo"], Array("CONFIG_OLD=y\n".utf8))

        var check = CrashStateCheck(scenario: "clean", root: root.path, command: ["clean", "--root", root.path, "--kernel", LifecycleRoot.version])
        let initial = try check.initialState()
        check.invariants = [
            .configsKept(initial: initial),
            .othersKept(initial: initial, allowed: ["usr/src/build-" + LifecycleRoot.version.string, "etc/kernels/kernel-config-" + LifecycleRoot.version.string]),
        ]
        try check.run()
    }

    @Test("hooks install, then hooks remove: nothing but ksqsh's own files changes at any point; a rerun finishes from each")
    func hooks() throws {
        let scratch = try TemporaryDirectory("crash-state-hooks")
        defer { scratch.remove() }
        let root = FS.realPath(scratch.path)!
        try FS.mkdirs(root / "etc/portage/env/sys-kernel")
        try FS.writeFile(root / "etc/portage/env/sys-kernel/vanilla-sources", Array("# the admin's own\n".utf8))
        try FS.mkdirs(root / "etc/local.d")
        try FS.writeFile(root / "etc/local.d/other.start", Array("#!/bin/sh\n".utf8), mode: 0o755)

        let install: [ByteString] = ["hooks", "install", "--root", root, "--init", "both", "--helper", "/usr/local/bin/ksqsh"]
        var check = CrashStateCheck(scenario: "hooks install", root: root, command: install)
        var initial = try check.initialState()
        // ksqsh's own files; the admin's beside them must outlive every point.
        let ksqshFiles = ["etc/kernel", "etc/systemd", "etc/portage/env/sys-kernel/gentoo-sources", "etc/local.d/ksqsh.start", "etc/local.d/ksqsh.stop"]
        check.invariants = [.othersKept(initial: initial, allowed: ksqshFiles)]
        try check.run()

        check = CrashStateCheck(scenario: "hooks remove", root: root, command: ["hooks", "remove", "--root", root])
        initial = try check.initialState()
        check.invariants = [.othersKept(initial: initial, allowed: ksqshFiles)]
        try check.run()
    }

    @Test("post_pkg_postrm (unmerge): the same guarantees through the hook, with portage's variables")
    func unmergeHook() throws {
        let root = try LifecycleRoot("crash-state-postrm")
        defer { root.tearDown() }
        try root.writeConfiguredBuildDirectory(marker: "unmerged")

        var check = CrashStateCheck(scenario: "post_pkg_postrm", root: root.path, command: ["hook", "--interface", "1", "post_pkg_postrm"])
        check.environment = [
            "ROOT": root.path.string + "/", "EROOT": root.path.string + "/", "KV_FULL": LifecycleRoot.version.string,
            "PN": "gentoo-sources", "PVR": "6.12.10", "KSQSH_CONFIG": root["etc/ksqsh.conf"].string,
        ]
        let initial = try check.initialState()
        check.invariants = [
            .configsKept(initial: initial),
            .othersKept(initial: initial, allowed: ["usr/src/build-" + LifecycleRoot.version.string]),
        ]
        try check.run()
    }

    @Test("installkernel with slim: the .config in the build dir and saved at every point; a rerun finishes from each")
    func installkernelAndSlim() throws {
        let root = try LifecycleRoot("crash-state-installkernel")
        defer { root.tearDown() }
        try BuiltDirectory.make(in: root)

        var check = CrashStateCheck(
            scenario: "installkernel + slim", root: root.path, command: ["installkernel", "--root", root.path, ByteString(BuiltDirectory.release), "/boot/vmlinuz"])
        check.environment = ["KSQSH_CONFIG": root["etc/ksqsh.conf"].string, "KSQSH_SLIM": "yes"]
        let initial = try check.initialState()
        check.invariants = [
            .configsKept(initial: initial),
            .othersKept(initial: initial, allowed: ["usr/src/build-" + LifecycleRoot.version.string, "etc/kernels"]),
        ]
        let outcome = try check.run()
        #expect(outcome.finished["usr/src/build-\(LifecycleRoot.version)/vmlinux"] == nil, "slimmed")
    }

    @Test(
        "adopt --mrproper: the tree or its image, and the .config, at every point; a rerun finishes from each",
        .enabled(if: LifecycleRequirements.hasLoopDevices && Requirements.isRoot, "needs root and loop devices to mount the image")
    )
    func adopt() throws {
        let root = try LifecycleRoot("crash-state-adopt")
        defer { root.tearDown() }
        let version = LifecycleRoot.version.string
        let tree = root.mountPoint()
        // A stand-in for the kernel's Makefile (the crash-order check runs
        // the real one): mrproper removes the .config, olddefconfig keeps it.
        let makefile = "mrproper:\n\trm -f .config\nolddefconfig:\n\t@test -f $(O)/.config\n"
        try root.write(tree / "Makefile", Array(makefile.utf8))
        try root.write(tree / "Kconfig", Array("config X\n\tbool \"x\"\n".utf8))
        for index in 0..<6 { try root.write(tree / ByteString("kernel/f\(index).c"), Array(repeating: UInt8(65 + index), count: 900 * (index + 1))) }
        try root.write(tree / ".config", KernelConfig.withMarker("adopted"))
        let master = try TemporaryDirectory("crash-state-adopt-master")
        defer { master.remove() }
        try copyTree(tree, to: master["tree"])
        try FS.unlink(master["tree/.config"])

        var check = CrashStateCheck(scenario: "adopt --mrproper", root: root.path, command: ["adopt", "--root", root.path, "--kernel", LifecycleRoot.version, "--mrproper", "--quiet"])
        check.environment = ["SOURCE_DATE_EPOCH": "1700000000"]
        check.unmount = { root.unmountLeavingMountPoints() }
        let initial = try check.initialState()
        let holdsTree = try ImageAcceptance(tree: master["tree"])
        check.equivalentAfterRecovery = ["usr/src/linux-\(version).sqfs": holdsTree.accepts]
        check.invariants = [
            .sourcesKept(tree: "usr/src/linux-" + version, initial: initial.without(["usr/src/linux-\(version)/.config"]), image: "usr/src/linux-\(version).sqfs", accepted: holdsTree),
            .configsKept(initial: initial, configs: ["usr/src/linux-\(version)/.config"]),
            .othersKept(initial: initial, allowed: ["usr/src/linux-" + version]),
        ]
        try check.run()
    }

    @Test(
        "prepare over an existing .config: it is in the build dir or in etc/kernels at every point while the kernel's make rewrites it",
        .enabled(if: LifecycleRequirements.hasLoopDevices && Requirements.isRoot && LifecycleRequirements.hasKernelBuildTools, "needs root, loop devices and the kernel's build tools")
    )
    func prepareOverExistingConfig() throws {
        let root = try LifecycleRoot("crash-state-prepare")
        defer { root.tearDown() }
        try root.installImage()
        expectSuccess(try root.ksqsh("prepare", kernel: LifecycleRoot.version))
        root.unmountAll()
        // The admin's own config, short: olddefconfig rewrites it in full.
        try FS.writeFile(root.buildDirectory() / ".config", KernelConfig.withMarker("admin"))
        try? FS.unlink(root.savedConfig())

        var check = CrashStateCheck(scenario: "prepare over an existing .config", root: root.path, command: ["prepare", "--root", root.path, "--kernel", LifecycleRoot.version])
        check.unmount = { root.unmountLeavingMountPoints() }
        // The kernel's make leaves what it writes unsynced: after a cut, an
        // empty object newer than its source is taken as up to date by any make.
        check.recoversFullestStates = false
        let initial = try check.initialState()
        check.invariants = [
            .configsKept(initial: initial),
            .othersKept(initial: initial, allowed: ["usr/src/build-" + LifecycleRoot.version.string, "etc/kernels", "usr/src/linux-" + LifecycleRoot.version.string]),
        ]
        try check.run()
    }
}
