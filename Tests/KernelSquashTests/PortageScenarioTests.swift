import Glibc
import Testing

/// The generated env hook under a simulated portage (Fixtures/portage-phase-
/// simulator.bash): the hook as ksqsh writes it, sourced afresh in every
/// phase with portage's variables, calling the real ksqsh, which makes real
/// images and real loop mounts under a scratch ROOT.
///
/// Each test is one story on its own machine (ROOT + simulator state) and
/// tears everything down, mounts first. Versions: gentoo-sources PVR
/// 6.12.10 → KV_FULL 6.12.10-gentoo (6.12.10-r1 → 6.12.10-gentoo-r1).
///
/// Real portage (the RealPortage suites) now runs the EAPI 8 install,
/// reinstall, versions and revisions beside, unmerges, binary packages, the
/// unmerge without ksqsh, the failed squash and KSQSH_FALLBACK=plain. Kept
/// here is only what real portage cannot reach with our fixture: EAPI 6
/// (ROOT with a trailing slash), SLOT=PV (a revision replacing in its slot),
/// a mount that fails in postinst, ksqsh unable to start in src_install
/// (and the Swift runtime hidden), and the sandbox and userpriv rules
/// (portage's sandbox binary is not available here).
@Suite(
    "Portage: the env hook through every merge order (simulated portage, real mounts)",
    .serialized,
    .hangGuard,
    .enabled(if: getuid() == 0, "needs root: the hooks loop-mount real images"),
    .enabled(if: LifecycleRequirements.hasLoopDevices, "needs loop devices (/dev/loop-control)"),
    .enabled(if: LifecycleRequirements.hasKernelBuildTools, "ksqsh prepare runs the kernel's make: needs make, gcc, flex, bison"),
    .enabled(if: ["bash", "bzip2", "findmnt", "md5sum"].allSatisfy(Subprocess.isInstalled), "the simulator needs bash, bzip2, findmnt, md5sum")
)
struct PortageScenarioTests {
    static let version = "6.12.10"
    static let kernel: ByteString = "6.12.10-gentoo"

    // MARK: - 1. Fresh install

    // EAPI 8 (gentoo-sources' own) runs under real portage (RealPortageTests).
    @Test("1. Fresh source install, EAPI 6 (ROOT=\"/tmp/x/\"): the image is merged and recorded, mounted ro,nodev,nosuid, the build dir configured, /usr/src/linux -> build dir")
    func freshInstallEAPI6() throws {
        let sim = try PortageSimulator("fresh-eapi6")
        defer { sim.tearDown() }
        sim.eapi = 6
        try sim.installKsqshAndHooks()

        let run = try sim.run("emerge", Self.version)
        try #require(run.succeeded, "\(run)")
        let root = sim.root
        let kv = Self.kernel

        // The hook ran in each of its phases, and all of them went through.
        for phase in ["pre_src_install", "post_src_install", "pre_pkg_preinst", "post_pkg_postinst"] {
            #expect(run.contains("ksqsh \(phase) ..."), "the hook did not run in \(phase):\n\(run)")
        }
        #expect(!run.contains(" [ !! ]"), "a hook failed:\n\(run)")

        // Portage merged the image and recorded it in CONTENTS, with its md5.
        try expectImageInstalled(sim, Self.version, kv)
        let contents = try sim.contents(Self.version)
        #expect(contents.contains("dir /usr/src"), "CONTENTS: \(contents)")
        #expect(!contents.contains { $0.contains(" /usr/src/linux-\(kv)/") }, "nothing of the package may live inside the mount point: \(contents)")

        // Mounted read-only, nodev, nosuid, exactly once, from the merged image.
        try expectMountedOnce(sim, kv)
        let mount = try #require(root.mounts(at: root.mountPoint(kv)).last)
        #expect(Set(["ro", "nodev", "nosuid"]).isSubset(of: Set(mount.mountOptions)), "\(mount)")

        // The tree was unpacked as the portage user; the image records root:root.
        let makefile = try FS.lstat(root.mountPoint(kv) / "Makefile")
        #expect(makefile.st_uid == 0 && makefile.st_gid == 0, "Makefile in the image is owned by \(makefile.st_uid):\(makefile.st_gid)")

        // The build dir: a real config and the `source` link make O= writes.
        try expectConfigured(root, kv)
        #expect(try FS.readlink(root.symlink) == "build-" + kv)

        // The package image held the .sqfs: S was emptied by the squash, so
        // kernel-2's cp -R copied an empty dir, which EAPI 6 keeps (EAPI 8
        // strips it): still nothing inside the mount point.
        let packaged = sim.imageDirectory(Self.version) / "usr/src"
        let names = try FS.list(packaged)
        #expect(names.contains("linux-" + kv + ".sqfs"), "image: \(names)")
        if names.contains("linux-" + kv) {
            #expect(try FS.list(packaged / ("linux-" + kv)).isEmpty, "files inside usr/src/linux-KV in the image")
        }
        // WORKDIR/linux-KV (S) still exists, empty, for kernel-2's `cd "${S}" || die`.
        #expect(FS.isDirectory(sim.sourceDirectory(Self.version)), "S is gone")
        #expect((try? FS.list(sim.sourceDirectory(Self.version)))?.isEmpty == true, "S was not emptied")

        // ksqsh's own view agrees: the image has its package, and what is
        // left is the user's build (module packages build against
        // /usr/src/linux and need its Module.symvers).
        let status = try StatusReport.decode(try root.ksqsh("status", ["--json"]))
        #expect(
            status[kv.string]?.problems == ["configured but not built: out-of-tree modules need its Module.symvers (make -C \(root.buildDirectory(kv)))"],
            "ksqsh status: \(String(describing: status[kv.string]?.problems))")
    }

    // MARK: - 5. Revision bump

    // gentoo-sources' SLOT=PVR (-r1 beside 6.12.10) runs under real portage
    // (RealPortageTests); a kernel-2 package with SLOT=${PV}, where -r1
    // replaces 6.12.10 in its slot, only here.
    @Test("5. Revision bump 6.12.10 → 6.12.10-r1 with SLOT=PV: the old version is replaced and retired properly, the new build dir is configured from the old config")
    func revisionBumpReplacingInSlot() throws {
        let sim = try PortageSimulator("revbump-pv")
        defer { sim.tearDown() }
        sim.slotRule = "pv"
        try sim.installKsqshAndHooks()
        let root = sim.root
        let old: ByteString = "6.12.10-gentoo"
        let new: ByteString = "6.12.10-gentoo-r1"
        try sim.run("emerge", "6.12.10").requireSuccess()
        try KernelConfig.mark(root.buildDirectory(old) / ".config", "marker")

        let run = try sim.run("emerge", "6.12.10-r1")
        try #require(run.succeeded, "\(run)")
        #expect(
            run.hookPhases == [
                "src_install gentoo-sources-6.12.10-r1", "pkg_preinst gentoo-sources-6.12.10-r1",
                "pkg_prerm gentoo-sources-6.12.10", "pkg_postrm gentoo-sources-6.12.10", "pkg_postinst gentoo-sources-6.12.10-r1",
            ], "\(run)")
        for phase in run.phases where phase.name == "pkg_prerm" || phase.name == "pkg_postrm" {
            #expect(phase.variables.contains("REPLACED_BY_VERSION=6.12.10-r1"), "\(phase.name): \(phase.variables)")
        }

        // The old version is gone, properly: config saved, nothing left mounted.
        expectRemoved(sim, "6.12.10", old, marker: "-marker")
        // The new one is in place, configured from the old config.
        #expect(sim.isInstalled("6.12.10-r1"))
        try expectImageInstalled(sim, "6.12.10-r1", new)
        try expectMountedOnce(sim, new)
        try expectConfigured(root, new)
        #expect(KernelConfig.localVersion(of: root.buildDirectory(new) / ".config") == "-marker", "the marker did not carry over to build-\(new)")
        #expect((try? FS.readlink(root.symlink)) == "build-" + new)
        #expect(LoopBacking.deletedFiles(under: root.path).isEmpty, "loop devices left on deleted images")
    }

    // MARK: - 8b. The mount fails in postinst

    @Test(
        "8b. Mount fails in postinst (something occupies /usr/src/linux-KV): eerror, the package stays installed and the obstacle untouched; ksqsh prepare fixes it afterwards",
        arguments: ["tmpfs", "unpacked tree"])
    func mountFailsInPostinst(obstacle: String) throws {
        let sim = try PortageSimulator("mount-fails-\(obstacle == "tmpfs" ? "tmpfs" : "tree")")
        defer { sim.tearDown() }
        try sim.installKsqshAndHooks()
        let root = sim.root
        let kv = Self.kernel
        let mountPoint = root.mountPoint(kv)
        try FS.mkdirs(mountPoint)
        if obstacle == "tmpfs" {
            try Subprocess.runChecked("mount", ["-t", "tmpfs", "-o", "size=1m", "obstacle", mountPoint])
        }
        let marker = mountPoint / "someone-else's-file"
        try FS.writeFile(marker, Array("keep me\n".utf8))

        let run = try sim.run("emerge", Self.version)
        // postinst failures do not fail the merge: the hook reports with eerror.
        #expect(run.succeeded, "\(run)")
        #expect(run.contains("ksqsh could not mount or prepare \(kv)"), "postinst should have reported the failed mount:\n\(run)")
        #expect(sim.isInstalled(Self.version), "the package must stay installed")
        try expectImageInstalled(sim, Self.version, kv)
        // Whatever was there is still there, untouched, and nothing hides it.
        #expect(FS.exists(marker), "the obstacle's content is gone: \(marker)")
        if obstacle == "tmpfs" {
            #expect(root.mounts(at: mountPoint).map(\.fileSystem) == ["tmpfs"], "ksqsh touched someone else's tmpfs: \(root.mounts(at: mountPoint))")
        }
        #expect(!root.isMounted(kv), "the image was mounted over the obstacle")

        // Remove the obstacle; then one command makes the kernel usable.
        for _ in 0..<3 where root.mounts(at: mountPoint).last?.fileSystem == "tmpfs" { Mounts.unmount(mountPoint) }
        if FS.exists(marker) { try FS.unlink(marker) }
        let prepare = try root.ksqsh("prepare", kernel: kv, ["--symlink"])
        #expect(prepare.succeeded, "\(prepare)")
        try expectMountedOnce(sim, kv)
        try expectConfigured(root, kv)
        #expect(try FS.readlink(root.symlink) == "build-" + kv)
    }

    /// an obj with its md5 and mtime.
    private func expectImageInstalled(_ sim: PortageSimulator, _ pvr: String, _ kv: ByteString, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let image = sim.root.image(kv)
        guard let st = try? FS.lstat(image), EntryType(mode: st.st_mode) == .file else {
            Issue.record("\(image) is not installed", sourceLocation: sourceLocation)
            return
        }
        let line = try sim.contents(pvr).first { $0.hasPrefix("obj /usr/src/linux-\(kv).sqfs ") }
        guard let line else {
            Issue.record("CONTENTS of \(pvr) does not list the image: \(try sim.contents(pvr))", sourceLocation: sourceLocation)
            return
        }
        let fields = line.split(separator: " ")
        let md5 = try Subprocess.runChecked("md5sum", [image]).stdoutText.split(separator: " ").first.map(String.init)
        #expect(fields.count == 4 && String(fields[2]) == md5, "CONTENTS md5 differs from the file: \(line) vs \(md5 ?? "?")", sourceLocation: sourceLocation)
        #expect(fields.count == 4 && String(fields[3]) == String(st.st_mtim.tv_sec), "CONTENTS mtime differs: \(line)", sourceLocation: sourceLocation)
    }

    /// linux-KV is mounted exactly once, from exactly ROOT/usr/src/linux-KV.sqfs
    /// as it is now (not a deleted earlier file), by one loop device.
    func expectMountedOnce(_ sim: PortageSimulator, _ kv: ByteString, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let root = sim.root
        let mounts = root.mounts(at: root.mountPoint(kv))
        #expect(mounts.count == 1, "\(root.mountPoint(kv)) should be mounted once: \(mounts)", sourceLocation: sourceLocation)
        #expect(mounts.last?.fileSystem == "squashfs", "\(mounts)", sourceLocation: sourceLocation)
        let backing = LoopBacking.rawBackingFile(mountedAt: root.mountPoint(kv))
        #expect(backing == root.image(kv).string, "the loop device is backed by \(backing ?? "nothing"), not the installed image", sourceLocation: sourceLocation)
        #expect(LoopDevices.attached(to: root.image(kv)).count == 1, "loop devices on the image: \(LoopDevices.attached(to: root.image(kv)))", sourceLocation: sourceLocation)
        #expect(LoopBacking.deletedFiles(under: root.path).isEmpty, "loop devices on deleted images: \(LoopBacking.deletedFiles(under: root.path))", sourceLocation: sourceLocation)
    }

    /// build-KV has a .config that went through the kernel's make and the
    /// `source` link to the mounted sources.
    private func expectConfigured(_ root: LifecycleRoot, _ kv: ByteString, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let build = root.buildDirectory(kv)
        #expect(KernelConfig.optionCount(of: build / ".config") > 100, "\(build)/.config is missing or was not made by make", sourceLocation: sourceLocation)
        let source = try? FS.readlink(build / "source")
        #expect(source != nil && FS.realPath(build / "source") == root.mountPoint(kv), "\(build)/source is \(source?.description ?? "missing")", sourceLocation: sourceLocation)
    }

    /// The version is fully retired: not installed, image unlinked, not
    /// mounted, mount point and build dir gone, its .config saved.
    private func expectRemoved(_ sim: PortageSimulator, _ pvr: String, _ kv: ByteString, marker: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let root = sim.root
        #expect(!sim.isInstalled(pvr), "\(pvr) is still in the vdb", sourceLocation: sourceLocation)
        #expect(!FS.exists(root.image(kv)), "\(root.image(kv)) is still there", sourceLocation: sourceLocation)
        #expect(root.mounts(at: root.mountPoint(kv)).isEmpty, "\(root.mountPoint(kv)) is still mounted", sourceLocation: sourceLocation)
        #expect(!FS.exists(root.mountPoint(kv)), "the mount point \(root.mountPoint(kv)) is left", sourceLocation: sourceLocation)
        #expect(!FS.exists(root.buildDirectory(kv)), "the build dir \(root.buildDirectory(kv)) is left", sourceLocation: sourceLocation)
        #expect(KernelConfig.localVersion(of: root.savedConfig(kv)) == marker, "\(root.savedConfig(kv)) does not hold the build dir's config", sourceLocation: sourceLocation)
    }

    /// S holds exactly what src_unpack put there (the skeleton; owners aside,
    /// since it was unpacked as the portage user), and no image was left beside it.
    func expectSourcesIntact(_ sim: PortageSimulator, _ pvr: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let tree = sim.sourceDirectory(pvr)
        var comparison = Manifest.Comparison()
        comparison.ownership = .ignore
        let differences = Manifest.differences(actual: try Manifest.scan(tree), expected: try Manifest.scan(try KernelSkeleton.kconfig.tree()), comparison)
        #expect(differences.isEmpty, "the sources in WORKDIR changed:\n\(differences.joined(separator: "\n"))", sourceLocation: sourceLocation)
        let left = try FS.list(sim.workdir(pvr))
        #expect(left == ["linux-" + PortageSimulator.kernelVersion(pvr)], "WORKDIR holds \(left)", sourceLocation: sourceLocation)
    }

    /// A failed build leaves ROOT as it was: no image, no vdb entry, no mounts.
    func expectNothingMerged(_ sim: PortageSimulator, _ pvr: String, _ kv: ByteString, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(!sim.isInstalled(pvr), sourceLocation: sourceLocation)
        #expect(!FS.exists(sim.root.image(kv)), sourceLocation: sourceLocation)
        #expect(sim.root.mounts.isEmpty, "\(sim.root.mounts)", sourceLocation: sourceLocation)
        #expect(!FS.exists(sim.imageDirectory(pvr) / "usr"), "src_install ran after the die", sourceLocation: sourceLocation)
    }
}
