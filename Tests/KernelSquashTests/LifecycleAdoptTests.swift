import Glibc
import Testing

extension LifecycleTests {
    /// `ksqsh adopt` on sources unpacked before ksqsh: a copy of the kernel
    /// skeleton at ROOT/usr/src/linux-6.12.20-gentoo with a .config inside
    /// and ROOT/usr/src/linux -> linux-6.12.20-gentoo, as gentoo-sources
    /// leaves them.
    @Suite(
        "ksqsh adopt",
        .enabled(if: LifecycleRequirements.hasKernelBuildTools, "needs make, gcc, flex and bison for the kernel's make")
    )
    struct Adopt {
        let version: ByteString = "6.12.20-gentoo"

        private func rootWithUnpackedTree(_ label: String) throws -> LifecycleRoot {
            let root = try LifecycleRoot(label)
            try copyTree(KernelSkeleton.kconfig.tree(), to: root.mountPoint(version))
            try FS.symlink(target: "linux-" + version, at: root.symlink)
            return root
        }

        @Test("a tree configured in place is refused (67) without --mrproper; its .config is saved, the tree untouched")
        func refusesConfiguredTree() throws {
            let root = try rootWithUnpackedTree("adopt-refused")
            defer { root.tearDown() }
            let tree = root.mountPoint(version)
            let config = KernelConfig.withMarker("adopted")
            try FS.writeFile(tree / ".config", config)
            let treeBefore = try Manifest.scan(tree)
            let before = try root.snapshot()

            let result = try root.ksqsh("adopt", kernel: version, ["--quiet"])
            expectRefusal(result, exit: Ksqsh.Exit.pathRefused, naming: [tree], in: root, before: before, allowedChanges: ["etc/kernels"])
            #expect(result.stderrText.contains("--mrproper"), "the error says how to go on: \(result)")
            #expect(try FS.readFile(root.savedConfig(version)) == config, "the .config is saved first")
            expectUnchanged(tree, before: treeBefore)
            #expect(!FS.exists(root.image(version)) && !FS.exists(root.buildDirectory(version)))
            #expect(try FS.readlink(root.symlink) == "linux-" + version)
        }

        @Test("with --mrproper: verified image, the tree dir becomes its mount, build dir from the saved config, linux re-pointed")
        func mrproperAdopts() throws {
            let root = try rootWithUnpackedTree("adopt")
            defer { root.tearDown() }
            let tree = root.mountPoint(version)
            let config = KernelConfig.withMarker("adopted")
            // Configured in place, as `make menuconfig` in /usr/src/linux leaves it.
            try FS.writeFile(tree / ".config", config)
            try kernelMake(tree, "olddefconfig")
            #expect(FS.isDirectory(tree / "include/config"), "precondition: configured in place")
            let configuredInPlace = try FS.readFile(tree / ".config")

            let result = try root.ksqsh("adopt", kernel: version, ["--mrproper", "--quiet"], timeout: .seconds(240))
            expectCompleted(result, printing: [
                "\(root.image(version)):", "verified",
                "\(root.buildDirectory(version)): configured from the saved config \(root.savedConfig(version))",
            ])

            let image = root.image(version)
            #expect(FS.exists(image))
            let verify = try Ksqsh.verify(image)
            #expect(verify.succeeded, "ksqsh verify IMAGE: \(verify)")
            #expect(root.isMounted(version), "the tree dir is now the image's mount: \(root.mounts)")
            let skeleton = try KernelSkeleton.kconfig.tree()
            #expect(try FS.readFile(tree / "Makefile") == FS.readFile(skeleton / "Makefile"))
            #expect(FS.exists(tree / "scripts/kconfig/conf.c"))
            #expect(!FS.exists(tree / ".config") && !FS.exists(tree / "include/config"), "the image holds the mrproper'd tree")

            #expect(try FS.readFile(root.savedConfig(version)) == configuredInPlace, "the in-place .config is saved")
            let buildConfig = root.buildDirectory(version) / ".config"
            #expect(KernelConfig.localVersion(of: buildConfig) == "-adopted", "the marker survives into build-KV")
            #expect(KernelConfig.optionCount(of: buildConfig) > 100)
            #expect(try FS.readlink(root.symlink) == "build-" + version, "linux pointed at the tree: now at its build dir")
        }
    }
}
