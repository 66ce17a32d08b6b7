import Glibc
import Lifecycle
import SystemPackage
import Testing

extension LifecycleTests {
    /// `ksqsh prepare` on the real kernel skeleton's image: the config chain
    /// (--config; the build dir's .config; the saved config; the newest other
    /// version; defconfig, as ROOT is never / here), the `source` link, --symlink and
    /// --modules. Each config carries a marker in CONFIG_LOCALVERSION, a real
    /// option that `make olddefconfig` keeps.
    @Suite(
        "ksqsh prepare",
        .enabled(if: LifecycleRequirements.hasKernelBuildTools, "needs make, gcc, flex and bison for the kernel's make")
    )
    struct Prepare {
        let version = LifecycleRoot.version

        /// A root with the image installed and configs of every lower step of
        /// the chain in place (saved for this version, saved for another).
        private func rootWithLowerSources(_ label: String) throws -> LifecycleRoot {
            let root = try LifecycleRoot(label)
            try root.installImage()
            try root.write(root.savedConfig(), KernelConfig.withMarker("saved"))
            try root.write(root.savedConfig("6.11.3-gentoo"), KernelConfig.withMarker("other"))
            return root
        }

        /// Expects the build dir to hold a complete config (olddefconfig ran) with `marker`.
        private func expectConfigured(_ root: LifecycleRoot, marker: String, sourceLocation: SourceLocation = #_sourceLocation) {
            let config = root.buildDirectory() / ".config"
            #expect(KernelConfig.localVersion(of: config) == "-\(marker)", "\(config) should come from the \(marker) config", sourceLocation: sourceLocation)
            #expect(KernelConfig.optionCount(of: config) > 100, "\(config) went through make olddefconfig", sourceLocation: sourceLocation)
        }

        @Test("--config FILE wins over every other source; the build dir's source link points at the mount")
        func givenConfigWins() throws {
            let root = try rootWithLowerSources("given")
            defer { root.tearDown() }
            let given = root["given.config"]
            try FS.writeFile(given, KernelConfig.withMarker("given"))
            let saved = try FS.readFile(root.savedConfig())

            let result = try root.ksqsh("prepare", kernel: version, ["--config", given])
            expectCompleted(result, printing: ["\(root.buildDirectory()): configured from the given config \(given)"])
            expectConfigured(root, marker: "given")
            #expect(root.isMounted(), "prepare mounts the image")
            #expect(try FS.readlink(root.buildDirectory() / "source") == root.mountPoint(), "build-KV/source -> the mount point")
            #expect(try FS.readFile(root.savedConfig()) == saved, "the saved config is only read")
            #expect(try FS.readFile(given) == KernelConfig.withMarker("given"), "the given file is only read")
        }

        @Test("an existing build-dir .config is kept (through olddefconfig) over the saved one")
        func existingBuildConfigIsKept() throws {
            let root = try rootWithLowerSources("existing")
            defer { root.tearDown() }
            let config = root.buildDirectory() / ".config"
            try root.write(config, KernelConfig.withMarker("existing"))

            let result = try root.ksqsh("prepare", kernel: version)
            expectCompleted(result, printing: ["\(root.buildDirectory()): configured from the existing \(config)"])
            expectConfigured(root, marker: "existing")
        }

        @Test("the saved etc/kernels/kernel-config-KV is used when the build dir has no .config")
        func savedConfigIsUsed() throws {
            let root = try rootWithLowerSources("saved")
            defer { root.tearDown() }

            let result = try root.ksqsh("prepare", kernel: version)
            expectCompleted(result, printing: ["\(root.buildDirectory()): configured from the saved config \(root.savedConfig())"])
            expectConfigured(root, marker: "saved")
        }

        @Test("otherwise the newest other version's config, in version order (6.10 beats 6.9), saved or in its build dir")
        func newestOtherVersionByVersionOrder() throws {
            let root = try LifecycleRoot("other")
            defer { root.tearDown() }
            try root.installImage()
            let config = root.buildDirectory() / ".config"

            // A saved 6.9.1 and the build dir of 6.10.2: as strings "6.9.1" > "6.10.2".
            try root.write(root.savedConfig("6.9.1-gentoo"), KernelConfig.withMarker("six-nine"))
            let buildConfig = root.buildDirectory("6.10.2-gentoo") / ".config"
            try root.write(buildConfig, KernelConfig.withMarker("six-ten-build"))
            let first = try root.ksqsh("prepare", kernel: version)
            expectCompleted(first, printing: ["configured from the config of 6.10.2-gentoo, \(buildConfig)"])
            expectConfigured(root, marker: "six-ten-build")

            // Saved configs only, plus an archived one (~TIME) that names no version.
            try FS.unlink(config)
            try Subprocess.runChecked("rm", ["-rf", "--", root.buildDirectory("6.10.2-gentoo")])
            try root.write(root.savedConfig("6.10.1-gentoo"), KernelConfig.withMarker("six-ten-saved"))
            try root.write(root.savedConfigs / "kernel-config-6.11.0-gentoo~20240101-120000", KernelConfig.withMarker("archived"))
            let second = try root.ksqsh("prepare", kernel: version)
            expectCompleted(second, printing: ["configured from the config of 6.10.1-gentoo, \(root.savedConfig("6.10.1-gentoo"))"])
            expectConfigured(root, marker: "six-ten-saved")
        }

        @Test("with ROOT /, the running kernel's config is used: decompressed, then olddefconfig")
        func runningKernelConfigWhenRootIsSlash() throws {
            let root = try LifecycleRoot("running")
            defer { root.tearDown() }
            try root.installImage()
            // Through the library: the binary would read the real /proc/config.gz
            // and, with --root /, the real /usr/src. A scratch EROOT stands in
            // for the running system's, a gzip file for /proc/config.gz.
            let compressed = root["config.gz"]
            let gzip = try Subprocess.run("sh", ["-c", "printf '%s' \"$0\" | gzip -c > \"$1\"", ByteString(KernelConfig.withMarker("running")), compressed])
            try #require(gzip.succeeded, "\(gzip)")
            var prepare = Lifecycle.Prepare(layout: KernelLayout(eroot: FilePath(root.path.string), version: KernelVersion(version.string)!))
            prepare.root = "/"
            prepare.runningKernelConfig = FilePath(compressed.string)

            let report = try prepare.run()
            #expect(report.config == ConfigChoice(base: .runningKernel(FilePath(compressed.string))))
            expectConfigured(root, marker: "running")
        }

        @Test("with no config at all, make defconfig (x86_64_defconfig); ROOT ≠ / never takes the build host's /proc/config.gz, and says so")
        func defconfigWhenNothingFound() throws {
            let root = try LifecycleRoot("defconfig")
            defer { root.tearDown() }
            try root.installImage()

            let result = try root.ksqsh("prepare", kernel: version)
            expectCompleted(result, printing: ["\(root.buildDirectory()): configured from make defconfig (no config found)"])
            if FS.exists("/proc/config.gz") {
                // The root may be another machine's: the host's kernel config says nothing of it.
                expectCompleted(result, printing: ["note: not using the build host's /proc/config.gz: ROOT is \(root.path)"])
            }
            let config = root.buildDirectory() / ".config"
            #expect(KernelConfig.localVersion(of: config) == "")
            let text = String(decoding: try FS.readFile(config), as: UTF8.self)
            #expect(text.contains("\nCONFIG_HZ_1000=y\n"), "x86_64_defconfig sets HZ=1000 (the Kconfig default is 250)")
        }

        @Test("--symlink points ROOT/usr/src/linux at build-KV with a relative link")
        func symlinkPointsAtBuildDir() throws {
            let root = try LifecycleRoot("symlink")
            defer { root.tearDown() }
            try root.installImage()
            // As kernel-2.eclass leaves it with USE=symlink.
            try FS.symlink(target: "linux-" + version, at: root.symlink)
            let given = root["given.config"]
            try FS.writeFile(given, KernelConfig.withMarker("given"))

            let result = try root.ksqsh("prepare", kernel: version, ["--config", given, "--symlink"])
            expectCompleted(result, printing: ["\(root.symlink) -> build-\(version)"])
            #expect(try FS.readlink(root.symlink) == "build-" + version, "a relative link to build-KV")
            #expect(FS.realPath(root.symlink) == root.buildDirectory())
            #expect(FS.isDirectory(root.symlink / "source/scripts"), "linux/source reaches the sources, as linux-info expects")
        }

        @Test("--symlink refuses (67) when ROOT/usr/src/linux is a real directory, and changes nothing")
        func symlinkRefusesRealDirectory() throws {
            let root = try LifecycleRoot("symlink-dir")
            defer { root.tearDown() }
            try root.installImage()
            try root.write(root.symlink / "Makefile", Array("# someone's own tree\n".utf8))
            let given = root["given.config"]
            try FS.writeFile(given, KernelConfig.withMarker("given"))
            let tree = try Manifest.scan(root.symlink)
            let before = try root.snapshot()

            let result = try root.ksqsh("prepare", kernel: version, ["--config", given, "--symlink"])
            expectRefusal(result, exit: Ksqsh.Exit.pathRefused, naming: [root.symlink], in: root, before: before)
            expectUnchanged(root.symlink, before: tree)
        }

        @Test("a build dir that is a symlink (to a directory outside usr/src) is refused (67), and nothing changes")
        func refusesSymlinkedBuildDir() throws {
            let root = try LifecycleRoot("build-link")
            defer { root.tearDown() }
            try root.installImage()
            let elsewhere = root["home/user/kernel-build"]
            try root.write(elsewhere / ".config", KernelConfig.withMarker("elsewhere"))
            try FS.symlink(target: elsewhere, at: root.buildDirectory())
            let target = try Manifest.scan(elsewhere)
            let before = try root.snapshot()

            let result = try root.ksqsh("prepare", kernel: version)
            expectRefusal(result, exit: Ksqsh.Exit.pathRefused, naming: [root.buildDirectory()], in: root, before: before)
            expectUnchanged(elsewhere, before: target)
        }

        @Test("an image of a tree configured in place makes the kernel's make fail: status 68 and ksqsh's own line last")
        func dirtySourcesFailTheBuild() throws {
            let root = try LifecycleRoot("dirty")
            defer { root.tearDown() }
            let tree = root["dirty-tree"]
            try copyTree(KernelSkeleton.kconfig.tree(), to: tree)
            try FS.writeFile(tree / ".config", KernelConfig.withMarker("in-tree"))
            try Ksqsh.squashChecked(tree, root.image())

            let result = try root.ksqsh("prepare", kernel: version)
            #expect(result.exitCode == Ksqsh.Exit.buildFailed, "\(result)")
            let own = result.stderrLines.filter { $0.hasPrefix("ksqsh:") }
            #expect(own.count == 1, "one line of ksqsh's own: \(result)")
            #expect(result.stderrLines.last?.hasPrefix("ksqsh:") == true, "after make's output: \(result)")
            #expect(own.first?.contains(root.buildDirectory().string) == true, "it names the build dir: \(result)")
        }

        @Test("--modules runs make modules_prepare: version.h, utsrelease.h with the marker, modpost")
        func modulesPrepare() throws {
            let root = try LifecycleRoot("modules")
            defer { root.tearDown() }
            try root.installImage(skeleton: .modules)
            let given = root["given.config"]
            // modules_prepare does nothing useful unless loadable modules are enabled.
            try FS.writeFile(given, KernelConfig.withMarker("modules") + Array("CONFIG_MODULES=y\n".utf8))

            let result = try root.ksqsh("prepare", kernel: version, ["--config", given, "--modules"], timeout: .seconds(240))
            expectCompleted(result, printing: ["\(root.buildDirectory()): configured from the given config \(given), modules prepared"])
            let build = root.buildDirectory()
            #expect(FS.exists(build / "include/generated/uapi/linux/version.h"), "linux-info.eclass needs version.h")
            let release = String(decoding: (try? FS.readFile(build / "include/generated/utsrelease.h")) ?? [], as: UTF8.self)
            #expect(release.contains("-modules\""), "UTS_RELEASE carries CONFIG_LOCALVERSION: \(release)")
            #expect(access((build / "scripts/mod/modpost").string, X_OK) == 0, "modpost is built")
        }

        @Test("--modules on a config without CONFIG_MODULES warns instead of claiming modules are prepared")
        func modulesDisabled() throws {
            let root = try LifecycleRoot("no-modules")
            defer { root.tearDown() }
            try root.installImage(skeleton: .modules)
            let given = root["given.config"]
            try FS.writeFile(given, KernelConfig.withMarker("nomod") + Array("# CONFIG_MODULES is not set\n".utf8))

            let result = try root.ksqsh("prepare", kernel: version, ["--config", given, "--modules"], timeout: .seconds(240))
            expectCompleted(result, printing: ["\(root.buildDirectory()): configured from the given config \(given)"])
            #expect(result.stderrText.contains("warning:") && result.stderrText.contains("CONFIG_MODULES"), "a warning names CONFIG_MODULES: \(result)")
            #expect(!result.stdoutText.contains("modules prepared"), "nothing was prepared for modules: \(result)")
            #expect(!FS.exists(root.buildDirectory() / "scripts/mod/modpost"), "modules_prepare did not run")
        }
    }
}
