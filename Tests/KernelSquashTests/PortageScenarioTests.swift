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

    @Test(
        "1. Fresh source install (USE=symlink): the image is merged and recorded, mounted ro,nodev,nosuid, the build dir configured, /usr/src/linux -> build dir",
        arguments: [8, 6])
    func freshInstall(eapi: Int) throws {
        let sim = try PortageSimulator("fresh-eapi\(eapi)")
        defer { sim.tearDown() }
        sim.eapi = eapi  // 8: ROOT="/tmp/x" (gentoo-sources); 6: ROOT="/tmp/x/"
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
        if eapi >= 8 {
            // EAPI 8 strips the empty S from the image: the package does not even own the mount point.
            #expect(!contents.contains("dir /usr/src/linux-\(kv)"), "CONTENTS: \(contents)")
        }

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

        // The package image held only the .sqfs: S was emptied by the squash,
        // so kernel-2's cp -R copied an empty dir, which EAPI 8 strips (EAPI 6
        // keeps it: an empty dir, still nothing inside the mount point).
        let packaged = sim.imageDirectory(Self.version) / "usr/src"
        let names = try FS.list(packaged)
        #expect(names.contains("linux-" + kv + ".sqfs"), "image: \(names)")
        if eapi >= 8 {
            #expect(names == ["linux-" + kv + ".sqfs"], "image: \(names)")
        } else if names.contains("linux-" + kv) {
            #expect(try FS.list(packaged / ("linux-" + kv)).isEmpty, "files inside usr/src/linux-KV in the image")
        }
        // WORKDIR/linux-KV (S) still exists, empty, for kernel-2's `cd "${S}" || die`.
        #expect(FS.isDirectory(sim.sourceDirectory(Self.version)), "S is gone")
        #expect((try? FS.list(sim.sourceDirectory(Self.version)))?.isEmpty == true, "S was not emptied")

        // ksqsh's own view agrees: nothing wrong, and the image has its package.
        let status = try StatusReport.decode(try root.ksqsh("status", ["--json"]))
        #expect(status[kv.string]?.problems == [], "ksqsh status: \(String(describing: status[kv.string]?.problems))")
    }

    // MARK: - 2. Same-version reinstall

    @Test("2. Same-version reinstall: new preinst, merge, old prerm/postrm, new postinst; the .config survives, the new image is mounted once")
    func sameVersionReinstall() throws {
        let sim = try PortageSimulator("reinstall")
        defer { sim.tearDown() }
        try sim.installKsqshAndHooks()
        try sim.run("emerge", Self.version).requireSuccess()
        let root = sim.root
        let kv = Self.kernel
        try Self.setLocalVersion(root.buildDirectory(kv) / ".config", "marker")
        let oldImage = try FS.lstat(root.image(kv)).st_ino

        let run = try sim.run("emerge", Self.version)
        try #require(run.succeeded, "\(run)")

        // Portage's order for a reinstall, with its variables.
        let pf = "gentoo-sources-\(Self.version)"
        #expect(run.hookPhases == ["src_install", "pkg_preinst", "pkg_prerm", "pkg_postrm", "pkg_postinst"].map { "\($0) \(pf)" }, "\(run)")
        for phase in run.phases where phase.name == "pkg_prerm" || phase.name == "pkg_postrm" {
            #expect(phase.variables.contains("REPLACED_BY_VERSION=\(Self.version)"), "\(phase.name): \(phase.variables)")
        }
        #expect(run.phases.first { $0.name == "pkg_postinst" }?.variables.contains("REPLACING_VERSIONS=\(Self.version)") == true)
        #expect(run.contains("replaces itself: keeping"), "the old postrm did not keep the build dir:\n\(run)")

        // The user's config survived (olddefconfig keeps CONFIG_LOCALVERSION).
        #expect(KernelConfig.localVersion(of: root.buildDirectory(kv) / ".config") == "-marker")

        // The image is the newly merged file, and the mount uses it, not the old one.
        try expectImageInstalled(sim, Self.version, kv)
        #expect(try FS.lstat(root.image(kv)).st_ino != oldImage, "the image was not replaced by the merge")
        try expectMountedOnce(sim, kv)
        try expectConfigured(root, kv)
        #expect(try FS.readlink(root.symlink) == "build-" + kv)
    }

    // MARK: - 3. A second version beside the first

    @Test("3. A new version installs beside the old one: both mounted with their build dirs; the new config comes from the old; /usr/src/linux -> the new build dir")
    func secondVersionBeside() throws {
        let sim = try PortageSimulator("beside")
        defer { sim.tearDown() }
        try sim.installKsqshAndHooks()
        try sim.run("emerge", "6.12.10").requireSuccess()
        let root = sim.root
        try Self.setLocalVersion(root.buildDirectory("6.12.10-gentoo") / ".config", "marker")

        let run = try sim.run("emerge", "6.12.11")
        try #require(run.succeeded, "\(run)")
        // Another SLOT: nothing of the old package runs.
        #expect(run.hookPhases == ["src_install", "pkg_preinst", "pkg_postinst"].map { "\($0) gentoo-sources-6.12.11" }, "\(run)")

        for (pvr, kv) in [("6.12.10", "6.12.10-gentoo"), ("6.12.11", "6.12.11-gentoo")] as [(String, ByteString)] {
            #expect(sim.isInstalled(pvr))
            try expectImageInstalled(sim, pvr, kv)
            try expectMountedOnce(sim, kv)
            try expectConfigured(root, kv)
        }
        #expect(run.contains("configured from the config of 6.12.10-gentoo"), "\(run)")
        #expect(KernelConfig.localVersion(of: root.buildDirectory("6.12.11-gentoo") / ".config") == "-marker")
        #expect(KernelConfig.localVersion(of: root.buildDirectory("6.12.10-gentoo") / ".config") == "-marker")
        #expect(try FS.readlink(root.symlink) == "build-6.12.11-gentoo")
    }

    // MARK: - 4. Unmerge

    @Test("4. Unmerging each version: its mount, mount point and build dir go, its .config is saved, /usr/src/linux moves to the other version, then goes")
    func unmergeEach() throws {
        let sim = try PortageSimulator("unmerge")
        defer { sim.tearDown() }
        try sim.installKsqshAndHooks()
        let root = sim.root
        try sim.run("emerge", "6.12.10").requireSuccess()
        try Self.setLocalVersion(root.buildDirectory("6.12.10-gentoo") / ".config", "ten")
        try sim.run("emerge", "6.12.11").requireSuccess()
        try Self.setLocalVersion(root.buildDirectory("6.12.11-gentoo") / ".config", "eleven")
        #expect(try FS.readlink(root.symlink) == "build-6.12.11-gentoo")

        // First the version /usr/src/linux points at.
        let first = try sim.run("unmerge", "6.12.11")
        try #require(first.succeeded, "\(first)")
        #expect(first.hookPhases == ["pkg_prerm gentoo-sources-6.12.11", "pkg_postrm gentoo-sources-6.12.11"])
        expectRemoved(sim, "6.12.11", "6.12.11-gentoo", marker: "-eleven")
        #expect((try? FS.readlink(root.symlink)) == "build-6.12.10-gentoo", "/usr/src/linux was not re-pointed at the remaining version")
        try expectMountedOnce(sim, "6.12.10-gentoo")
        try expectConfigured(root, "6.12.10-gentoo")

        // Then the last one.
        let last = try sim.run("unmerge", "6.12.10")
        try #require(last.succeeded, "\(last)")
        expectRemoved(sim, "6.12.10", "6.12.10-gentoo", marker: "-ten")
        #expect(!FS.exists(root.symlink), "/usr/src/linux must go with the last version")
        #expect(root.mounts.isEmpty, "mounts left under ROOT: \(root.mounts)")
        #expect((try? FS.list(root.sources)) == [], "left in usr/src: \(String(describing: try? FS.list(root.sources)))")
        #expect(LoopBacking.deletedFiles(under: root.path).isEmpty, "loop devices left on deleted images")
    }

    // MARK: - 5. Revision bump

    @Test(
        "5. Revision bump 6.12.10 → 6.12.10-r1: the old version is retired properly, the new build dir is configured from the old config",
        arguments: ["pvr", "pv"])
    func revisionBump(slotRule: String) throws {
        // pvr: gentoo-sources as it is (kernel-2.eclass: SLOT=${SLOT:=${PVR}}): -r1
        //      installs beside 6.12.10, which goes later (depclean / emerge -C).
        // pv:  a kernel-2 package with SLOT=${PV}: -r1 replaces 6.12.10 in its slot,
        //      with the old prerm/postrm seeing REPLACED_BY_VERSION=6.12.10-r1.
        let sim = try PortageSimulator("revbump-\(slotRule)")
        defer { sim.tearDown() }
        sim.slotRule = slotRule
        try sim.installKsqshAndHooks()
        let root = sim.root
        let old: ByteString = "6.12.10-gentoo"
        let new: ByteString = "6.12.10-gentoo-r1"
        try sim.run("emerge", "6.12.10").requireSuccess()
        try Self.setLocalVersion(root.buildDirectory(old) / ".config", "marker")

        let run = try sim.run("emerge", "6.12.10-r1")
        try #require(run.succeeded, "\(run)")
        if slotRule == "pv" {
            #expect(
                run.hookPhases == [
                    "src_install gentoo-sources-6.12.10-r1", "pkg_preinst gentoo-sources-6.12.10-r1",
                    "pkg_prerm gentoo-sources-6.12.10", "pkg_postrm gentoo-sources-6.12.10", "pkg_postinst gentoo-sources-6.12.10-r1",
                ], "\(run)")
            for phase in run.phases where phase.name == "pkg_prerm" || phase.name == "pkg_postrm" {
                #expect(phase.variables.contains("REPLACED_BY_VERSION=6.12.10-r1"), "\(phase.name): \(phase.variables)")
            }
        } else {
            #expect(run.hookPhases == ["src_install", "pkg_preinst", "pkg_postinst"].map { "\($0) gentoo-sources-6.12.10-r1" }, "\(run)")
            #expect(sim.isInstalled("6.12.10"), "SLOT=PVR: 6.12.10 stays until it is unmerged")
            try expectMountedOnce(sim, old)
            let depclean = try sim.run("unmerge", "6.12.10")
            try #require(depclean.succeeded, "\(depclean)")
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

    // MARK: - 6. Binary package

    @Test("6. Binary package: built on one machine, merged on a fresh one with no src phases (MERGE_TYPE=binary): mounted and prepared by the saved hooks")
    func binaryPackage() throws {
        let builder = try PortageSimulator("builder")
        defer { builder.tearDown() }
        let client = try PortageSimulator("client", sharingStateWith: builder)
        defer { client.tearDown() }
        try builder.installKsqshAndHooks()
        let kv = Self.kernel

        let build = try builder.run("build-binpkg", Self.version)
        try #require(build.succeeded, "\(build)")
        #expect(build.phases.allSatisfy { $0.variables.contains("MERGE_TYPE=buildonly") }, "\(build)")
        let packaged = builder.binaryPackage(Self.version) / "image/usr/src"
        #expect(try FS.list(packaged) == ["linux-" + kv + ".sqfs"])
        // The builder's own ROOT is untouched: the src phases run in the sandbox.
        #expect(!FS.exists(builder.root.image(kv)) && builder.root.mounts.isEmpty)

        // The client has ksqsh (the shared copy) but no env file: only the
        // hooks saved in the binary package run.
        #expect(!FS.exists(client.envHook))
        let run = try client.run("emerge-binpkg", Self.version)
        try #require(run.succeeded, "\(run)")
        #expect(run.phases.map(\.name) == ["pkg_setup", "pkg_preinst", "pkg_postinst"], "a binary merge runs no src phases:\n\(run)")
        #expect(run.phases.allSatisfy { $0.variables.contains("MERGE_TYPE=binary") }, "\(run)")
        #expect(run.contains("ksqsh post_pkg_postinst ..."), "the saved hook did not run:\n\(run)")

        try expectImageInstalled(client, Self.version, kv)
        try expectMountedOnce(client, kv)
        try expectConfigured(client.root, kv)
        #expect(try FS.readlink(client.root.symlink) == "build-" + kv)
        // And the hooks stay with the installed package for its unmerge.
        #expect(try client.savedEnvironment(Self.version).contains("post_pkg_postrm"))
    }

    // MARK: - 7. ksqsh uninstalled before the unmerge

    @Test("7. Unmerge after ksqsh was uninstalled: the saved prerm hook unmounts the squashfs itself, portage removes the image; reinstalled ksqsh cleans up the build dir, keeping the .config")
    func unmergeWithoutHelper() throws {
        let sim = try PortageSimulator("no-helper")
        defer { sim.tearDown() }
        try sim.installKsqshAndHooks()
        try sim.run("emerge", Self.version).requireSuccess()
        let root = sim.root
        let kv = Self.kernel
        try Self.setLocalVersion(root.buildDirectory(kv) / ".config", "marker")

        // Uninstalling ksqsh: its hooks go first (hooks remove), then the binary.
        // Only the copies saved in the vdb are left to run at the unmerge.
        let removeHooks = try Subprocess.run(sim.helperCopy, ["hooks", "remove", "--root", root.path])
        try #require(removeHooks.succeeded && !FS.exists(sim.envHook), "\(removeHooks)")
        try sim.run("remove-helper").requireSuccess()
        let run = try sim.run("unmerge", Self.version)
        try #require(run.succeeded, "\(run)")
        // Both saved hooks saw that ksqsh is gone and said so.
        #expect(run.lines(containing: "ksqsh is not installed").count == 2, "\(run)")
        #expect(!run.contains(" [ !! ]") && !run.contains("FAILED"), "\(run)")
        // Portage removed what it installed.
        #expect(!FS.exists(root.image(kv)), "portage must unlink the image")
        #expect(!sim.isInstalled(Self.version))

        // Real portage showed the mount of the deleted image and its loop device
        // staying until reboot: prerm now unmounts a squashfs at the mount point
        // without ksqsh, and removes the empty mount point.
        #expect(run.lines(containing: "unmounted \(root.mountPoint(kv)) without ksqsh").count == 1, "\(run)")
        #expect(root.mounts.isEmpty, "the mount of the deleted image stayed: \(root.mounts)")
        #expect(!FS.exists(root.mountPoint(kv)), "the empty mount point should go with the mount")
        #expect(LoopBacking.deletedFiles(under: root.path).isEmpty, "a loop device still holds the deleted image")
        // What needs ksqsh stays, safely: the build dir with the config.
        #expect(FS.isDirectory(root.buildDirectory(kv)))
        #expect(KernelConfig.localVersion(of: root.buildDirectory(kv) / ".config") == "-marker")

        // ksqsh is installed again: clean retires the build dir, keeping the config.
        try sim.run("install-helper").requireSuccess()
        let clean = try Subprocess.run(sim.helperCopy, ["clean", "--root", root.path, "--kernel", kv])
        #expect(clean.succeeded, "\(clean)")
        #expect(!FS.exists(root.buildDirectory(kv)))
        #expect(KernelConfig.localVersion(of: root.savedConfig(kv)) == "-marker")
        #expect(!FS.exists(root.symlink), "the dangling /usr/src/linux should go")
    }

    // MARK: - 8a. The squash fails in pre_src_install

    @Test("8a. Squash fails (PORTAGE_TMPDIR full): die, nothing is merged, the sources in WORKDIR are untouched")
    func squashFailsOnFullDisk() throws {
        let sim = try PortageSimulator("disk-full")
        defer { sim.tearDown() }
        try sim.installKsqshAndHooks()
        // After the unpack, fill PORTAGE_TMPDIR (a tmpfs) up to the last 256 KiB:
        // the image (~2.6 MB) cannot be written.
        let fill = #"avail=$(df --output=avail -B1 "$1" | tail -n 1); fallocate -l $((avail - 262144)) "$1/../filler""#
        let run = try sim.run("emerge", Self.version, environment: ["SIM_AFTER_UNPACK": fill])
        #expect(run.exitCode == 1, "the build must fail:\n\(run)")
        #expect(run.contains("ksqsh could not squash the kernel sources"), "\(run)")
        #expect(run.contains("failed (install phase)"), "\(run)")
        try expectSourcesIntact(sim, Self.version)
        try expectNothingMerged(sim, Self.version, Self.kernel)
    }

    @Test("8a. Squash fails (WORKDIR read-only): die with the tree intact; with KSQSH_FALLBACK=plain the sources are installed unsquashed")
    func squashFailsWithFallback() throws {
        let sim = try PortageSimulator("fallback")
        defer { sim.tearDown() }
        try sim.installKsqshAndHooks()
        let kv = Self.kernel
        let readOnly = #"mount --bind "$1" "$1" && mount -o remount,bind,ro "$1""#

        let failed = try sim.run("emerge", Self.version, environment: ["SIM_AFTER_UNPACK": readOnly])
        #expect(failed.exitCode == 1, "the build must fail:\n\(failed)")
        #expect(failed.contains("ksqsh could not squash the kernel sources"), "\(failed)")
        #expect(failed.contains("KSQSH_FALLBACK=plain"), "the die message should name the way out:\n\(failed)")
        try expectSourcesIntact(sim, Self.version)
        try expectNothingMerged(sim, Self.version, kv)
        Mounts.unmount(sim.workdir(Self.version))

        let plain = try sim.run("emerge", Self.version, environment: ["SIM_AFTER_UNPACK": readOnly, "KSQSH_FALLBACK": "plain"])
        Mounts.unmount(sim.workdir(Self.version))
        #expect(plain.succeeded, "KSQSH_FALLBACK=plain must install the sources unsquashed:\n\(plain)")
        #expect(plain.contains("KSQSH_FALLBACK=plain: installing the sources unsquashed"), "\(plain)")
        guard plain.succeeded else { return }
        // The package image holds the plain tree and no image; so does ROOT.
        let packaged = sim.imageDirectory(Self.version) / ("usr/src/linux-" + kv)
        let skeleton = try KernelSkeleton.kconfig.tree()
        #expect(Set(try Manifest.scan(packaged).paths) == Set(try Manifest.scan(skeleton).paths), "ED does not hold the plain tree")
        #expect(!FS.exists(sim.imageDirectory(Self.version) / ("usr/src/linux-" + kv + ".sqfs")))
        #expect(sim.isInstalled(Self.version))
        #expect(FS.exists(sim.root.mountPoint(kv) / "Makefile") && !FS.exists(sim.root.image(kv)))
        #expect(sim.root.mounts.isEmpty, "nothing to mount for plain sources: \(sim.root.mounts)")
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

    // MARK: - Checks shared by the scenarios

    /// What a user's edit of the build dir's config looks like: the
    /// generated .config with CONFIG_LOCALVERSION="-MARKER" (a string option
    /// that olddefconfig keeps as written).
    static func setLocalVersion(_ config: ByteString, _ marker: String) throws {
        var lines = String(decoding: try FS.readFile(config), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let setting = "CONFIG_LOCALVERSION=\"-\(marker)\""
        if let index = lines.firstIndex(where: { $0.hasPrefix("CONFIG_LOCALVERSION=") }) {
            lines[index] = setting
        } else {
            lines.insert(setting, at: 0)
        }
        try FS.writeFile(config, Array(lines.joined(separator: "\n").utf8))
    }

    /// ROOT/usr/src/linux-KV.sqfs is a regular file, recorded in CONTENTS as
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
