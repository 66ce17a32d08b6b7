import Portage
import SystemPackage
import Testing

/// The installkernel plugin (`/etc/kernel/postinst.d/90-ksqsh`) and the
/// command it runs, `ksqsh installkernel RELEASE IMAGE`: the `.config` of
/// a kernel built in a ksqsh build dir is saved when it is installed, and
/// with KSQSH_SLIM=yes the build dir is slimmed.
@Suite("installkernel: the plugin and ksqsh installkernel")
struct InstallkernelTests {
    static let release = ByteString(BuiltDirectory.release)
    static let image: ByteString = "/boot/vmlinuz-" + release

    /// `ksqsh installkernel --root ROOT RELEASE IMAGE`, with the settings
    /// file inside ROOT (absent unless a test writes it) and `variables`.
    private func installkernel(_ root: LifecycleRoot, _ release: ByteString = Self.release, _ variables: [String: String?] = [:]) throws -> ProcessResult {
        let environment = ["KSQSH_CONFIG": root["etc/ksqsh.conf"].string, "KSQSH_SLIM": nil].merging(variables) { $1 }
        return try Ksqsh.run(["installkernel", "--root", root.path, release, Self.image], environment: environment)
    }

    /// ROOT/lib/modules/RELEASE/build -> /usr/src/build-KV, as `make modules_install` links it on the system itself.
    private func linkModules(_ root: LifecycleRoot, _ release: ByteString = Self.release, to target: ByteString) throws {
        try FS.mkdirs(root["lib/modules"] / release)
        try FS.symlink(target: target, at: root["lib/modules"] / release / "build")
    }

    @Test("the plugin hands installkernel's arguments to the helper and exits 0 even when the helper fails or is missing")
    func pluginNeverFailsTheInstallation() throws {
        let scratch = try TemporaryDirectory("installkernel-plugin")
        defer { scratch.remove() }
        let record = scratch["arguments"]
        let helper = scratch["helper"]
        try FS.writeFile(helper, Array("#!/bin/sh\necho \"$@\" > '\(record)'\necho 'helper: it went wrong' >&2\nexit 3\n".utf8), mode: 0o755)
        let plugin = scratch["90-ksqsh"]
        try FS.writeFile(plugin, Array(try HookTemplate.installkernelPlugin.render(helper: FilePath(helper.string)).utf8), mode: 0o755)

        let failed = try Subprocess.run(plugin, [Self.release, Self.image])
        #expect(failed.exitCode == 0, "the plugin must not fail the kernel's installation: \(failed)")
        #expect(String(decoding: try FS.readFile(record), as: UTF8.self) == "installkernel \(Self.release) \(Self.image)\n")
        #expect(failed.stderrText.contains("helper: it went wrong") && failed.stderrText.contains("ksqsh: warning:"), "\(failed)")

        try FS.unlink(helper)
        let missing = try Subprocess.run(plugin, [Self.release, Self.image], environment: ["PATH": "/usr/bin:/bin"])
        #expect(missing.exitCode == 0 && missing.stderr.isEmpty, "without ksqsh the plugin does nothing: \(missing)")
    }

    @Test("the build dir's .config is saved for a kernel found through lib/modules/RELEASE/build; a different one saved before is kept time-stamped")
    func savesTheConfig() throws {
        let root = try LifecycleRoot("installkernel-save")
        defer { root.tearDown() }
        try BuiltDirectory.make(in: root, installModules: false)
        try linkModules(root, to: "/usr/src/build-" + LifecycleRoot.version)
        let config = root.buildDirectory() / ".config"

        let first = try installkernel(root)
        expectCompleted(first, printing: ["saved as \(root.savedConfig())"])
        #expect(try FS.readFile(root.savedConfig()) == FS.readFile(config))
        #expect(FS.exists(root.buildDirectory() / "vmlinux"), "without KSQSH_SLIM the build dir stays as it is")

        try FS.writeFile(config, Array("CONFIG_MODULES=y\nCONFIG_LOCALVERSION=\"-second\"\n".utf8))
        let second = try installkernel(root)
        expectCompleted(second, printing: ["is kept as \(root.savedConfig())~"])
        #expect(try FS.readFile(root.savedConfig()) == FS.readFile(config))
        let archived = try FS.list(root.savedConfigs).filter { $0.string.hasPrefix("kernel-config-\(LifecycleRoot.version)~") }
        #expect(archived.count == 1, "the first config is kept: \(archived)")
    }

    @Test("a kernel without modules is found by its build dir's kernel.release; one built elsewhere is left alone")
    func findsTheBuildDirOrNothing() throws {
        let root = try LifecycleRoot("installkernel-find")
        defer { root.tearDown() }
        try BuiltDirectory.make(in: root, installModules: false)

        let withoutModules = try installkernel(root)
        expectCompleted(withoutModules, printing: ["saved as \(root.savedConfig())"])

        try FS.unlink(root.savedConfig())
        let before = try root.snapshot()
        try linkModules(root, "6.1.0-other", to: "/home/me/linux")
        let elsewhere = try installkernel(root, "6.1.0-other")
        expectCompleted(elsewhere, printing: ["6.1.0-other was not built in a build dir under", "nothing to do"])
        #expect(!FS.exists(root.savedConfig()))
        let changes = before.changes(to: try root.snapshot()).filter { !$0.path.isSameOrBelow("lib") }
        #expect(changes.isEmpty, "\(RootSnapshot.describe(changes))")
    }

    @Test("KSQSH_SLIM=yes slims the build dir once the config is saved; modules not installed: saved, not slimmed, a warning")
    func slimsOnRequest() throws {
        let root = try LifecycleRoot("installkernel-slim")
        defer { root.tearDown() }
        try BuiltDirectory.make(in: root, installModules: false)
        let build = root.buildDirectory()

        // lib/modules/RELEASE is there only as the link: modules_install
        // makes both, a plain `make install` neither. Without the modules
        // slim refuses and says why.
        let unlinked = try installkernel(root, Self.release, ["KSQSH_SLIM": "yes"])
        expectCompleted(unlinked, printing: ["saved as"])
        #expect(unlinked.stderrText.contains("not slimmed") && unlinked.stderrText.contains("modules_install"), "\(unlinked)")
        #expect(FS.exists(build / "vmlinux"))

        try linkModules(root, to: "/usr/src/build-" + LifecycleRoot.version)
        try root.write(root["etc/ksqsh.conf"], Array("KSQSH_SLIM=yes\n".utf8))
        let slimmed = try installkernel(root)
        expectCompleted(slimmed, printing: ["already saved as", "\(build): ", "removed "])
        #expect(!FS.exists(build / "vmlinux") && FS.exists(build / "Module.symvers") && FS.exists(build / ".config"))
    }

    @Test("a refused KSQSH_SLIM value is a warning and the default (no slim) stands")
    func refusedSettingWarns() throws {
        let root = try LifecycleRoot("installkernel-setting")
        defer { root.tearDown() }
        try BuiltDirectory.make(in: root)
        let result = try installkernel(root, Self.release, ["KSQSH_SLIM": "sure"])
        expectCompleted(result, printing: ["saved as"])
        #expect(result.stderrText.contains("KSQSH_SLIM=sure is not one of: no, yes") && result.stderrText.contains("the default stands"), "\(result)")
        #expect(FS.exists(root.buildDirectory() / "vmlinux"))
    }
}
