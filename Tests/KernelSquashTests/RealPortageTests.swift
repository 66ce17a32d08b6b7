import Testing

/// The hooks driven by real portage (3.0.83 from the venv), through a
/// kernel's life on one machine: fresh install, the user's .config edit,
/// a same-version reinstall, an -r1 revision and a new version beside it
/// (gentoo-sources' SLOT is the full version), then the unmerge of each.
/// Portage runs every phase in its own order with its own variables, saves
/// the hooks in the vdb and runs the saved ones at the unmerge; the src
/// phases run with FEATURES=userpriv (as nobody), as on most Gentoo systems.
@Suite(
    "Real portage: install, edit, reinstall, revision, new version, unmerge (FEATURES=userpriv)",
    .serialized,
    .timeLimit(.minutes(10)),
    .realPortageMachine
)
struct RealPortageTests {
    @Test("A kernel's life under real portage: every version mounted once with its build dir, the user's .config kept and carried over, each unmerge saves it and leaves nothing")
    func lifecycle() async throws {
        let machine = try RealPortageMachine("lifecycle", .init(userpriv: true))
        defer { machine.tearDown() }
        try machine.installHooks()
        let root = machine.root
        let ten: ByteString = "6.12.10-gentoo", revision: ByteString = "6.12.10-gentoo-r1", eleven: ByteString = "6.12.11-gentoo"

        // Fresh install: squashed in src_install (as root, on a tree the
        // portage user unpacked), mounted and prepared in postinst.
        let fresh = try await machine.install("6.12.10").requireSuccess()
        #expect(fresh.hookPhases == ["pre_src_install", "post_src_install", "pre_pkg_preinst", "post_pkg_postinst"], "\(fresh)")
        PortageExpectations.installed(machine, "6.12.10")
        PortageExpectations.mounted(machine, ten)
        PortageExpectations.configured(machine, ten)
        PortageExpectations.symlink(machine, "build-" + ten)
        #expect(!fresh.hookOutput("pre_src_install").contains { $0.contains("reused") }, "nothing was installed to reuse:\n\(fresh)")
        let makefile = try FS.lstat(root.mountPoint(ten) / "Makefile")
        #expect(makefile.st_uid == 0 && makefile.st_gid == 0, "the image records \(makefile.st_uid):\(makefile.st_gid), not root:root")

        // The user edits the build dir's .config.
        try KernelConfig.mark(root.buildDirectory(ten) / ".config", "ten")

        // Same-version reinstall: new preinst unmounts, portage replaces the
        // image, the old prerm/postrm (saved hooks) keep the build dir, the
        // new postinst mounts the new image.
        let record = machine.path / "mounts-at-merge"
        let again = try await machine.install("6.12.10", environment: ["KSQSH_TEST_MERGE_RECORD=" + record]).requireSuccess()
        #expect(
            again.hookPhases == ["pre_src_install", "post_src_install", "pre_pkg_preinst", "pre_pkg_prerm", "post_pkg_postrm", "post_pkg_postinst"],
            "\(again)")
        // The old image is unmounted by preinst, before portage replaces it
        // (the old prerm, later, would unmount it too).
        #expect(again.hookOutput("pre_pkg_preinst") == ["\(root.mountPoint(ten)): unmounted"], "preinst did not unmount the old image:\n\(again)")
        #expect(String(decoding: (try? FS.readFile(record)) ?? [], as: UTF8.self) == "at merge: nothing mounted\n", "the old image was still mounted when portage merged")
        PortageExpectations.installed(machine, "6.12.10")
        PortageExpectations.mounted(machine, ten)
        PortageExpectations.configured(machine, ten, mark: "ten")
        // The squash reused the installed image's blocks (the same sources: all of them).
        Self.expectReused(again, from: root.image(ten))

        // -r1: another SLOT, installed beside; its config comes from 6.12.10's.
        let bump = try await machine.install("6.12.10-r1").requireSuccess()
        #expect(bump.hookPhases == ["pre_src_install", "post_src_install", "pre_pkg_preinst", "post_pkg_postinst"], "\(bump)")
        PortageExpectations.installed(machine, "6.12.10-r1")
        PortageExpectations.mounted(machine, revision)
        PortageExpectations.configured(machine, revision, mark: "ten")
        PortageExpectations.mounted(machine, ten)
        PortageExpectations.symlink(machine, "build-" + revision)
        try KernelConfig.mark(root.buildDirectory(revision) / ".config", "revision")

        // A new version beside both, configured from the newest config; its
        // squash reuses the newest installed version's image.
        let upgrade = try await machine.install("6.12.11").requireSuccess()
        Self.expectReused(upgrade, from: root.image(revision))
        PortageExpectations.installed(machine, "6.12.11")
        PortageExpectations.mounted(machine, eleven)
        PortageExpectations.configured(machine, eleven, mark: "revision")
        PortageExpectations.symlink(machine, "build-" + eleven)
        PortageExpectations.nothingStray(
            machine, usrSrc: Set([ten, revision, eleven].flatMap { ["linux-\($0)", "linux-\($0).sqfs", "build-\($0)"] } + ["linux"]),
            mounted: [ten, revision, eleven])
        try KernelConfig.mark(root.buildDirectory(eleven) / ".config", "eleven")

        // Unmerge each (the saved hooks run): first the one /usr/src/linux
        // points at, which then moves to a version that is left.
        let first = try await machine.unmerge("6.12.11").requireSuccess()
        #expect(first.hookPhases == ["pre_pkg_prerm", "post_pkg_postrm"], "\(first)")
        PortageExpectations.removed(machine, "6.12.11", mark: "eleven")
        #expect((try? FS.readlink(root.symlink)).map { $0 == "build-" + ten || $0 == "build-" + revision } == true, "/usr/src/linux was not moved to a version left")
        try await machine.unmerge("6.12.10").requireSuccess()
        PortageExpectations.removed(machine, "6.12.10", mark: "ten")
        PortageExpectations.mounted(machine, revision)
        try await machine.unmerge("6.12.10-r1").requireSuccess()
        PortageExpectations.removed(machine, "6.12.10-r1", mark: "revision")
        PortageExpectations.symlink(machine, nil)
        PortageExpectations.nothingStray(machine, usrSrc: [], mounted: [])
    }

    /// pre_src_install said it reused blocks of `image`, and how many.
    private static func expectReused(_ run: PortageRun, from image: ByteString, sourceLocation: SourceLocation = #_sourceLocation) {
        let line = run.hookOutput("pre_src_install").first { $0.contains(".sqfs:") }.map(String.init) ?? ""
        let reusedSome = line.contains("(reused ") && !line.contains("(reused 0 of") && line.contains(" from \(image.string))")
        #expect(reusedSome, "pre_src_install did not say it reused blocks of \(image): '\(line)'\n\(run)", sourceLocation: sourceLocation)
    }
}
