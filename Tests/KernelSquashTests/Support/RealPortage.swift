import Glibc
import Testing

/// One machine for real portage (the RealPortage suites): a scratch ROOT (a
/// `LifecycleRoot`), a throwaway PORTAGE_CONFIGROOT whose repository is
/// Fixtures/kernel-sources-repo (a gentoo-sources-like package on our own
/// model of kernel-2.eclass), PORTAGE_TMPDIR on a tmpfs of its own, and "the
/// installed ksqsh": a copy of the release binary that the hooks name,
/// which a test may delete or break.
///
/// `tearDown()` records an issue for every mount or loop device the story
/// left under the machine (each story ends with everything unmerged), then
/// undoes them and deletes the machine.
final class RealPortageMachine {
    static let repository: ByteString = Checkout.root / "Tests/KernelSquashTests/Fixtures/kernel-sources-repo"

    let root: LifecycleRoot
    let portage: PortageConfigRoot
    private let scratch: TemporaryDirectory
    /// The canonical scratch path (mountinfo and loop devices list canonical paths).
    let path: ByteString

    /// How a machine is set up.
    struct Setup {
        /// FEATURES=userpriv: the src phases before src_install run as an
        /// unprivileged user (nobody: Debian has no portage user).
        var userpriv = false
        /// PORTAGE_TMPDIR's tmpfs: small for the disk-full story.
        var temporarySize = "512m"
        /// The tree src_unpack copies (KSQSH_TEST_KERNEL_TREE); nil: the kconfig skeleton.
        var kernelTree: ByteString?
        /// PKGDIR: another machine's, for a binhost's client.
        var packagesFrom: RealPortageMachine?
    }

    init(_ label: String, _ setup: Setup = Setup()) throws {
        scratch = try TemporaryDirectory("real-portage-\(label)")
        path = FS.realPath(scratch.path) ?? scratch.path
        root = try LifecycleRoot("real-portage-\(label)")
        // Reachable for the unprivileged user of FEATURES=userpriv.
        _ = chmod(path.string, 0o755)
        do {
            var makeConf = [
                "USE=\"symlink\"",
                // The fixture's src_unpack copies this tree: the kernel's real make runs in prepare.
                "KSQSH_TEST_KERNEL_TREE=\"\(try setup.kernelTree ?? KernelSkeleton.kconfig.tree())\"",
                // No countdowns before an unmerge or after a warning.
                "CLEAN_DELAY=\"0\"",
                "EMERGE_WARNING_DELAY=\"0\"",
                // The machine's own hook settings, not the host's /etc/ksqsh.conf (absent until a test writes it).
                "KSQSH_CONFIG=\"\(path / "ksqsh.conf")\"",
            ]
            if setup.userpriv {
                let group = try Subprocess.runChecked("id", ["-gn", "nobody"]).stdoutText.split(separator: "\n").first.map(String.init) ?? "nogroup"
                makeConf += ["FEATURES=\"${FEATURES} userpriv\"", "PORTAGE_USERNAME=\"nobody\"", "PORTAGE_GRPNAME=\"\(group)\""]
            }
            if let builder = setup.packagesFrom { makeConf.append("PKGDIR=\"\(builder.portage.packages)\"") }
            portage = try PortageConfigRoot(
                at: path / "portage", repositories: [("kernel-sources-model", Self.repository)], makeConf: makeConf, targetRoot: root.path)
            try FS.writeFile(portage.configDirectory / "bashrc", Array(Self.testSeam.utf8))
            try Subprocess.runChecked(
                "mount", ["-t", "tmpfs", "-o", ByteString("size=\(setup.temporarySize),mode=0755"), "real-portage-tmpdir", portage.temporary],
                timeout: .seconds(30))
            try FS.mkdirs(helper.parent)
            try FS.writeFile(helper, FS.readFile(try Self.releaseBinary()), mode: 0o755)
        } catch {
            Mounts.unmountAll(below: path)
            root.tearDown()
            scratch.remove()
            throw error
        }
    }

    /// Seams for the tests, not portage, each off unless the test sets its
    /// variable: KSQSH_TEST_AFTER_UNPACK, a bash snippet run after src_unpack
    /// with WORKDIR as $1 (to fill the disk, to take the image's place);
    /// KSQSH_TEST_MERGE_RECORD, a file that learns what is mounted at the
    /// version's mount point once pkg_preinst and its hooks are done, when
    /// portage is about to merge.
    private static let testSeam = """
        # Test seams (ksqsh's RealPortage tests), not part of portage.
        post_src_unpack() {
        \tif [[ -n ${KSQSH_TEST_AFTER_UNPACK-} ]]; then
        \t\tbash -c "${KSQSH_TEST_AFTER_UNPACK}" after-unpack "${WORKDIR}" || die "the test's after-unpack step failed"
        \tfi
        }
        post_pkg_preinst() {
        \tif [[ -n ${KSQSH_TEST_MERGE_RECORD-} ]]; then
        \t\techo "at merge: $(findmnt -rn -o FSTYPE --mountpoint "${EROOT%/}/usr/src/linux-${KV_FULL}" || echo nothing) mounted" >>"${KSQSH_TEST_MERGE_RECORD}"
        \tfi
        }

        """

    /// The release build (`make build`, which `make test` and `make
    /// test-portage` run first) is what users install; the debug build
    /// squashes several times slower, which the suite's time cannot afford.
    static func releaseBinary() throws -> ByteString {
        guard access(MakeInstall.ksqsh.string, X_OK) == 0 else {
            throw TestSetupError("\(MakeInstall.ksqsh) is missing: run `make build` (make test and make test-portage do) first")
        }
        return MakeInstall.ksqsh
    }

    // MARK: - Paths

    /// "The installed ksqsh" the hooks call.
    var helper: ByteString { path / "bin/ksqsh" }
    /// The hook settings file, as make.conf's KSQSH_CONFIG names it.
    var settings: ByteString { path / "ksqsh.conf" }
    /// The env hook `ksqsh hooks install` writes under the configuration root.
    var envHook: ByteString { portage.configDirectory / "env/sys-kernel/gentoo-sources" }
    /// The package's vdb entry, ROOT/var/db/pkg/sys-kernel/gentoo-sources-PVR.
    func vdb(_ pvr: String) -> ByteString { root.path / ByteString("var/db/pkg/sys-kernel/gentoo-sources-\(pvr)") }
    func isInstalled(_ pvr: String) -> Bool { FS.isDirectory(vdb(pvr)) }
    /// PORTAGE_BUILDDIR of a build (left behind only when the build failed).
    func buildDirectory(_ pvr: String) -> ByteString { portage.temporary / ByteString("portage/sys-kernel/gentoo-sources-\(pvr)") }
    /// S = WORKDIR/linux-KV_FULL.
    func sourceDirectory(_ pvr: String) -> ByteString {
        buildDirectory(pvr) / "work" / ("linux-" + GentooSources.kernelVersion(pvr))
    }

    /// CONTENTS of an installed package, one line each.
    func contents(_ pvr: String) throws -> [String] {
        String(decoding: try FS.readFile(vdb(pvr) / "CONTENTS"), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    // MARK: - Commands

    /// `ksqsh hooks install` into the configuration root, naming the helper copy.
    func installHooks() throws {
        try Subprocess.runChecked(helper, ["hooks", "install", "--root", portage.path, "--init", "openrc", "--helper", helper])
    }

    /// `emerge ARGUMENTS` for this ROOT; `environment` adds NAME=VALUE words
    /// (KSQSH_FALLBACK, FEATURES, the test seam).
    @discardableResult
    func emerge(_ arguments: [ByteString], environment: [ByteString] = [], timeout: Duration = .seconds(300)) async throws -> PortageRun {
        PortageRun(try await portage.run(
            "emerge", ["--color=n", "--quiet-build=n", "--nodeps"] + arguments, environment: environment, timeout: timeout))
    }

    /// Builds gentoo-sources-PVR from the repository and merges it.
    @discardableResult
    func install(
        _ pvr: String, _ options: [ByteString] = [], environment: [ByteString] = [], timeout: Duration = .seconds(300)
    ) async throws -> PortageRun {
        try await emerge(options + [GentooSources.atom(pvr)], environment: environment, timeout: timeout)
    }

    /// `emerge --unmerge =gentoo-sources-PVR`.
    @discardableResult
    func unmerge(_ pvr: String) async throws -> PortageRun {
        try await emerge(["--unmerge", GentooSources.atom(pvr)])
    }

    // MARK: - Teardown

    /// Records what the story left mounted or attached under ROOT or the
    /// machine (but PORTAGE_TMPDIR's own tmpfs), undoes all of it and
    /// deletes both. Never throws.
    func tearDown(sourceLocation: SourceLocation = #_sourceLocation) {
        let strayMounts = MountInfo.entries().filter {
            ($0.target.isSameOrBelow(root.path) || $0.target.isBelow(path)) && $0.target != portage.temporary
        }
        #expect(strayMounts.isEmpty, "mounts left behind: \(strayMounts)", sourceLocation: sourceLocation)
        let strayLoops = LoopBacking.backingFiles(under: root.path) + LoopBacking.backingFiles(under: path)
        #expect(strayLoops.isEmpty, "loop devices left behind: \(strayLoops)", sourceLocation: sourceLocation)
        Mounts.unmountAll(below: path)
        root.tearDown()
        scratch.remove()
    }

}

/// The fixture's sys-kernel/gentoo-sources: its versions as portage and the kernel name them.
enum GentooSources {
    /// KV_FULL of a PVR, as kernel-2 makes it: 6.12.10 → 6.12.10-gentoo, 6.12.10-r1 → 6.12.10-gentoo-r1.
    static func kernelVersion(_ pvr: String) -> ByteString {
        if let dash = pvr.range(of: "-r") {
            return ByteString("\(pvr[..<dash.lowerBound])-gentoo-\(pvr[pvr.index(after: dash.lowerBound)...])")
        }
        return ByteString("\(pvr)-gentoo")
    }

    static func atom(_ pvr: String) -> ByteString { ByteString("=sys-kernel/gentoo-sources-\(pvr)") }
}

extension Trait where Self == ConditionTrait {
    /// What a RealPortage machine needs: root and loop devices (the hooks
    /// loop-mount real images), and the kernel's build tools (ksqsh prepare
    /// runs the kernel's make). A missing venv is a failure, not a skip:
    /// `make deps` installs portage.
    static var realPortageMachine: Self {
        .enabled(
            if: Requirements.isRoot && LifecycleRequirements.hasLoopDevices && LifecycleRequirements.hasKernelBuildTools,
            "needs root, loop devices (/dev/loop-control) and make, gcc, flex, bison")
    }
}
