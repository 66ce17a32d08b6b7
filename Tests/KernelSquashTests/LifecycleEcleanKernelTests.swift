import Glibc
import Testing

extension LifecycleTests {
    /// The real eclean-kernel (from `.venv`, as `make deps` installs it)
    /// removing an older kernel whose build dir is a ksqsh build dir: it
    /// deletes the target of /lib/modules/RELEASE/build with the kernel.
    /// The installkernel step before it saved the `.config`; the image and
    /// its mount are not eclean-kernel's; status names the one fix, and the
    /// fix brings the build dir back from the saved config.
    @Suite(
        "eclean-kernel removes an older kernel: its .config survives, prepare brings the build dir back",
        .enabled(if: LifecycleRequirements.hasKernelBuildTools, "needs make, gcc, flex and bison for the kernel's make")
    )
    struct EcleanKernel {
        static let older: ByteString = "6.12.10-gentoo"
        static let newer: ByteString = "6.12.11-gentoo"

        /// Prepares `version` from a config marked `marker`, then leaves what
        /// `make && make modules_install install` leave (the build's products
        /// as placeholders: the real build is LifecycleSlimBuildTests') and
        /// runs what the installkernel plugin runs.
        private func install(_ version: ByteString, marker: String, in root: LifecycleRoot) throws {
            try root.installImage(version)
            let config = root[ByteString("\(marker).config")]
            try FS.writeFile(config, KernelConfig.withMarker(marker))
            expectCompleted(try root.ksqsh("prepare", kernel: version, ["--config", config]))
            let build = root.buildDirectory(version)
            try root.write(build / "include/config/kernel.release", (version + "\n").bytes)
            try root.write(build / "System.map", Array("ffffffff81000000 T _stext\n".utf8))
            try root.write(root["boot/vmlinuz-" + version], Array("Linux version \(version) (ksqsh-test) #1 SMP\n".utf8))
            try root.write(root["boot/System.map-" + version], FS.readFile(build / "System.map"))
            try root.write(root["boot/config-" + version], FS.readFile(build / ".config"))
            // modules_install links the build dir by its absolute path.
            try FS.mkdirs(root["lib/modules"] / version / "kernel")
            try FS.symlink(target: build, at: root["lib/modules"] / version / "build")
            let installed = try Ksqsh.run(
                ["installkernel", "--root", root.path, version, "/boot/vmlinuz-" + version],
                environment: ["KSQSH_CONFIG": root["etc/ksqsh.conf"].string, "KSQSH_SLIM": nil])
            expectCompleted(installed, printing: ["saved as \(root.savedConfig(version))"])
        }

        @Test("eclean-kernel -n 1 deletes the older build dir; the saved .config, the image and its mount stay; status names prepare, which restores it")
        func olderKernelRemoved() throws {
            let eclean = try Checkout.venvProgram("eclean-kernel")
            let root = try LifecycleRoot("eclean-kernel")
            defer { root.tearDown() }
            try install(Self.older, marker: "older", in: root)
            try install(Self.newer, marker: "newer", in: root)
            // The newer version was installed without USE=symlink: /usr/src/linux still names the older one.
            try FS.symlink(target: "build-" + Self.older, at: root.symlink)
            let olderConfig = try FS.readFile(root.buildDirectory(Self.older) / ".config")

            let removed = try Subprocess.run(
                eclean, ["--root", root.path, "--num", "1", "--no-mount", "--no-bootloader-update", "--no-kernel-install"],
                timeout: .seconds(120))
            #expect(removed.succeeded && removed.stdoutText.contains("Removed 1 kernels"), "\(removed)")
            #expect(!FS.exists(root.buildDirectory(Self.older)), "eclean-kernel deletes the build link's target")
            #expect(!FS.exists(root["lib/modules"] / Self.older) && !FS.exists(root["boot/vmlinuz-" + Self.older]))
            #expect(FS.exists(root.buildDirectory(Self.newer) / ".config"), "the kernel kept keeps its build dir")

            #expect(try FS.readFile(root.savedConfig(Self.older)) == olderConfig, "installkernel's step saved the .config")
            #expect(root.isMounted(Self.older) && FS.exists(root.mountPoint(Self.older) / "Makefile"), "the image stays mounted and readable")
            let gone = try #require(StatusReport.decode(try root.ksqsh("status", ["--json"]))[Self.older.string])
            #expect(
                gone.problems == ["\(root.symlink) points at \(root.buildDirectory(Self.older)), which is gone (ksqsh prepare --kernel \(Self.older) recreates it from \(root.savedConfig(Self.older)))"],
                "\(gone.problems)")

            let prepared = try root.ksqsh("prepare", kernel: Self.older)
            expectCompleted(prepared, printing: ["configured from the saved config \(root.savedConfig(Self.older))"])
            #expect(KernelConfig.localVersion(of: root.buildDirectory(Self.older) / ".config") == "-older")
            // Back to where prepare leaves a version: configured, to be built.
            let restored = try #require(StatusReport.decode(try root.ksqsh("status", ["--json"]))[Self.older.string])
            #expect(restored.problems.count == 1 && restored.problems[0].hasPrefix("configured but not built"), "\(restored.problems)")
        }
    }
}
