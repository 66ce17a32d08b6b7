import Glibc
import Testing

extension LifecycleTests {
    /// Gentoo's newer config conventions on the real kernel skeleton's image:
    /// the package's savedconfig as a base, etc/kernel/config.d fragments
    /// merged over it by the kernel's own merge_config.sh, and the
    /// pkg_postinst hook handing PN and PVR on.
    @Suite(
        "ksqsh prepare: savedconfig and config.d fragments",
        .enabled(if: LifecycleRequirements.hasKernelBuildTools, "needs make, gcc, flex and bison for the kernel's make")
    )
    struct PrepareGentooConfig {
        let version = LifecycleRoot.version
        /// The package that installs 6.12.10-gentoo.
        let fullName: ByteString = "gentoo-sources-6.12.10"

        private func savedconfig(_ root: LifecycleRoot, _ name: ByteString) -> ByteString {
            root["etc/portage/savedconfig/sys-kernel"] / name
        }

        private func fragment(_ root: LifecycleRoot, _ name: ByteString) -> ByteString { root["etc/kernel/config.d"] / name }

        /// A config with CONFIG_LOCALVERSION as its marker and a host name:
        /// both string options olddefconfig keeps as written.
        private func config(marker: String, hostname: String) -> [UInt8] {
            KernelConfig.withMarker(marker) + Array("CONFIG_DEFAULT_HOSTNAME=\"\(hostname)\"\n".utf8)
        }

        private func hostname(of config: ByteString) -> String? {
            let text = String(decoding: (try? FS.readFile(config)) ?? [], as: UTF8.self)
            return text.split(separator: "\n").first { $0.hasPrefix("CONFIG_DEFAULT_HOSTNAME=") }.map {
                String($0.dropFirst("CONFIG_DEFAULT_HOSTNAME=".count).filter { $0 != "\"" })
            }
        }

        @Test("the owner's savedconfig is the base, config.d fragments are merged over it in name order and named; never into an existing .config")
        func savedconfigAndFragments() throws {
            let root = try LifecycleRoot("savedconfig")
            defer { root.tearDown() }
            try root.installImage()
            // Portage's record that the package owns the image: how prepare finds PN and PV.
            try root.write(
                root["var/db/pkg/sys-kernel"] / fullName / "CONTENTS",
                Array("dir /usr/src\nobj /usr/src/linux-\(version).sqfs d41d8cd98f00b204e9800998ecf8427e 1700000000\n".utf8))
            let base = savedconfig(root, fullName)
            try root.write(base, config(marker: "savedconfig", hostname: "base"))
            // Lower in the chain: must lose to the savedconfig.
            try root.write(root.savedConfig("6.11.3-gentoo"), KernelConfig.withMarker("other"))
            let first = fragment(root, "10-first.config")
            let second = fragment(root, "20-second.config")
            try root.write(second, Array("CONFIG_DEFAULT_HOSTNAME=\"second\"\n".utf8))
            try root.write(first, Array("CONFIG_DEFAULT_HOSTNAME=\"first\"\n".utf8))

            // merge_config.sh and make would write the config there.
            let elsewhere = root["elsewhere.config"]
            let result = try Ksqsh.run(
                ["prepare", "--root", root.path, "--kernel", version], environment: ["KCONFIG_CONFIG": elsewhere.string],
                timeout: .seconds(180))
            let build = root.buildDirectory()
            expectCompleted(result, printing: [
                "\(build): configured from the savedconfig \(base)",
                "\(build): merged the config fragment \(first)\n\(build): merged the config fragment \(second)",
            ])
            let config = build / ".config"
            #expect(KernelConfig.localVersion(of: config) == "-savedconfig", "the base is the savedconfig")
            #expect(hostname(of: config) == "second", "both fragments merged, the later name last")
            #expect(KernelConfig.optionCount(of: config) > 100, "make olddefconfig ran after the merge")
            #expect(!FS.exists(elsewhere), "KCONFIG_CONFIG from the caller's environment is not followed")
            #expect(try FS.list(build).allSatisfy { !$0.string.hasPrefix(".tmp.config") && !$0.string.hasPrefix(".merge_tmp") }, "merge_config.sh cleaned up")

            // The build dir's .config is the user's now: a new fragment is not merged into it.
            try root.write(fragment(root, "30-third.config"), Array("CONFIG_DEFAULT_HOSTNAME=\"third\"\n".utf8))
            let again = try root.ksqsh("prepare", kernel: version)
            expectCompleted(again, printing: [
                "\(build): configured from the existing \(config)",
                "note: 3 config.d fragments not merged into the existing .config; to merge: cd \(build) && \(root.mountPoint())/scripts/kconfig/merge_config.sh -m -r .config",
            ])
            #expect(!again.stdoutText.contains("merged the config fragment"), "\(again)")
            #expect(hostname(of: config) == "second", "the existing .config is kept as it was")
        }

        @Test("the pkg_postinst hook passes PN and PVR: PN's savedconfig is found without var/db/pkg")
        func hookPassesPackage() throws {
            let root = try LifecycleRoot("savedconfig-hook")
            defer { root.tearDown() }
            try root.installImage()
            let base = savedconfig(root, "gentoo-sources")
            try root.write(base, config(marker: "hook", hostname: "hook"))
            let environment: [String: String?] = [
                "ROOT": root.path.string, "EPREFIX": "", "EROOT": nil, "KV_FULL": version.string,
                "PN": "gentoo-sources", "PVR": "6.12.10", "USE": "", "MERGE_TYPE": "binary", "FEATURES": "",
            ]

            let result = try Ksqsh.run(["hook", "post_pkg_postinst", "--interface", "1"], environment: environment, timeout: .seconds(180))
            expectCompleted(result, printing: ["\(root.buildDirectory()): configured from the savedconfig \(base)"])
            #expect(KernelConfig.localVersion(of: root.buildDirectory() / ".config") == "-hook")
        }

        @Test("a fragment name merge_config.sh would split is refused (67) before anything changes")
        func unsafeFragmentRefused() throws {
            let root = try LifecycleRoot("fragment-name")
            defer { root.tearDown() }
            try root.installImage()
            let unsafe = fragment(root, "my net.config")
            try root.write(unsafe, Array("CONFIG_DEFAULT_HOSTNAME=\"x\"\n".utf8))
            let before = try root.snapshot()

            let result = try root.ksqsh("prepare", kernel: version)
            expectRefusal(result, exit: Ksqsh.Exit.pathRefused, naming: [unsafe], in: root, before: before)
        }
    }
}
