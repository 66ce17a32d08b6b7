import Testing

/// Binary packages under real portage: `emerge --buildpkg` on a builder,
/// `emerge --usepkgonly` onto a client ROOT where no src phase runs and no
/// env file exists, so only the hooks saved in the binpkg act; then the
/// unmerges where only saved hooks and no working ksqsh are left.
@Suite(
    "Real portage: binary package onto a fresh ROOT, unmerge with ksqsh broken or removed",
    .serialized,
    .timeLimit(.minutes(10)),
    .realPortageMachine
)
struct RealPortageBinaryPackageTests {
    @Test("A binpkg's saved hooks mount and prepare on a client; unmerge with a helper that cannot start, and after ksqsh was removed, still unmounts and keeps the build dir and its .config")
    func binaryPackage() async throws {
        let builder = try RealPortageMachine("builder")
        defer { builder.tearDown() }
        let client = try RealPortageMachine("client", .init(packagesFrom: builder))
        defer { client.tearDown() }
        let kv = GentooSources.kernelVersion("6.12.10")

        // The builder: hooks installed, the package built, packed and merged.
        try builder.installHooks()
        try await builder.install("6.12.10", ["--buildpkg"]).requireSuccess()
        let packed = try Subprocess.runChecked("find", [builder.portage.packages, "-name", "gentoo-sources-6.12.10*"]).stdoutText
        #expect(!packed.isEmpty, "no binary package in \(builder.portage.packages)")
        PortageExpectations.installed(builder, "6.12.10")
        PortageExpectations.mounted(builder, kv)

        // The client has the same ksqsh (the hooks name the builder's copy)
        // but no env file: only the hooks saved in the binpkg can act.
        #expect(!FS.exists(client.envHook))
        let binary = try await client.install("6.12.10", ["--usepkgonly"]).requireSuccess()
        #expect(binary.hookPhases == ["pre_pkg_preinst", "post_pkg_postinst"], "a binary merge runs no src phase:\n\(binary)")
        PortageExpectations.installed(client, "6.12.10")
        PortageExpectations.mounted(client, kv)
        PortageExpectations.configured(client, kv)
        PortageExpectations.symlink(client, "build-" + kv)
        try KernelConfig.mark(client.root.buildDirectory(kv) / ".config", "client")
        try KernelConfig.mark(builder.root.buildDirectory(kv) / ".config", "builder")

        // ksqsh breaks on the builder (its Swift runtime gone, say): the saved
        // prerm unmounts without it, postrm keeps what only ksqsh may retire.
        try FS.writeFile(builder.helper, BrokenHelper.script(BrokenHelper.loaderError), mode: 0o755)
        let broken = try await builder.unmerge("6.12.10").requireSuccess()
        // (Portage repeats e* messages in its summary: each phase is looked for once.)
        for phase in ["pre_pkg_prerm", "post_pkg_postrm"] {
            #expect(broken.contains("ksqsh is installed but cannot start: \(phase) leaves the kernel sources as they are"), "\(broken)")
        }
        #expect(broken.contains("unmounted \(builder.root.mountPoint(kv)) without ksqsh"), "\(broken)")
        Self.expectUnmergedKeepingBuildDirectory(builder, kv, mark: "builder")

        // ksqsh removed altogether (the client's hooks name the same copy).
        try FS.unlink(builder.helper)
        let removed = try await client.unmerge("6.12.10").requireSuccess()
        for phase in ["pre_pkg_prerm", "post_pkg_postrm"] {
            #expect(removed.contains("ksqsh is not installed: \(phase) leaves the kernel sources as they are"), "\(removed)")
        }
        #expect(removed.contains("unmounted \(client.root.mountPoint(kv)) without ksqsh"), "\(removed)")
        Self.expectUnmergedKeepingBuildDirectory(client, kv, mark: "client")
    }

    /// Unmerged without a working ksqsh: the image unlinked and unmounted
    /// (no loop device left on the deleted file), the mount point gone, the
    /// build dir and its marked .config kept for `ksqsh clean`.
    static func expectUnmergedKeepingBuildDirectory(
        _ machine: RealPortageMachine, _ kv: ByteString, mark: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let root = machine.root
        #expect(!machine.isInstalled("6.12.10"), sourceLocation: sourceLocation)
        #expect(KernelConfig.localVersion(of: root.buildDirectory(kv) / ".config") == "-" + mark, "the build dir's .config is gone", sourceLocation: sourceLocation)
        PortageExpectations.nothingStray(machine, usrSrc: ["build-" + kv.string, "linux"], mounted: [], sourceLocation: sourceLocation)
    }
}
