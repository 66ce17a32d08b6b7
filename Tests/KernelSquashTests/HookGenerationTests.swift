import Foundation
import Portage
import SystemPackage
import Testing

@Suite("Generated hooks and boot scripts")
struct HookGenerationTests {
    @Test("The templates compiled into ksqsh are exactly the files in templates/ (run 'make templates' if not)", arguments: HookTemplate.allCases)
    func embeddedTemplatesMatchFiles(template: HookTemplate) throws {
        #expect(template.embeddedText == (try Repository.text("templates/\(template.rawValue)")))
    }

    @Test("etc-portage/ is what a default 'ksqsh hooks install' writes (run 'make etc-portage' if not)")
    func examplesMatchDefaultInstall() throws {
        var installation = HookInstallation(helper: "/usr/local/bin/ksqsh")
        installation.initSystem = .both
        let files = try installation.files()
        #expect(files.count == 5)
        for file in files {
            let example = file.path.string
                .replacingOccurrences(of: "etc/portage/", with: "")
                .replacingOccurrences(of: "etc/local.d/", with: "local.d/")
                .replacingOccurrences(of: "etc/systemd/system/", with: "systemd/")
                .replacingOccurrences(of: "etc/kernel/", with: "kernel/")
            #expect(file.text == (try Repository.text("etc-portage/\(example)")), "etc-portage/\(example) drifted")
        }
    }

    @Test("Every generated script and template passes shellcheck", .enabled(if: Subprocess.isInstalled("shellcheck"), "shellcheck is not installed"))
    func shellcheckClean() throws {
        let scratch = try TemporaryDirectory("shellcheck")
        defer { scratch.remove() }
        var installation = HookInstallation(helper: "/usr/lib/ksqsh dir/ksqsh's")  // quoting must survive spaces and quotes
        installation.initSystem = .openrc
        installation.packages = ["gentoo-sources", "vanilla-sources"]
        var paths: [ByteString] = []
        for file in try installation.files() where !file.path.string.hasSuffix(".service") {
            let path = scratch[ByteString(file.path.lastComponent!.string)]
            try FS.writeFile(path, Array(file.text.utf8))
            paths.append(path)
        }
        let templates = ["portage-env-hook.bash", "local.d-ksqsh.start", "local.d-ksqsh.stop", "installkernel-postinst"].map { ByteString(Repository.root.appendingPathComponent("templates/\($0)").path) }
        let result = try Subprocess.run("shellcheck", ["-s", "bash"] + paths + templates)
        #expect(result.succeeded, "\(result)")
    }

    @Test("The hook passes KV_FULL as data: shell metacharacters in it run nothing")
    func kernelVersionIsNeverEvaluated() throws {
        let scratch = try TemporaryDirectory("hook-injection")
        defer { scratch.remove() }
        let hook = scratch["hook"]
        try FS.writeFile(hook, Array(try HookTemplate.portageEnvHook.render(package: "gentoo-sources", helper: FilePath(try Ksqsh.binary().description)).utf8))
        let witness = scratch["pwned"]
        let script = """
            ebegin() { :; }; eend() { :; }; ewarn() { echo "$*"; }; eerror() { echo "$*"; }
            die() { echo "die: $*"; exit 1; }
            source "$1"
            KV_FULL='$(touch \(witness.description))`touch \(witness.description)`;touch \(witness.description)'
            WORKDIR="$2" ROOT=/ EROOT=/ ED= PN=gentoo-sources PVR=1
            pre_src_install
            """
        let result = try Subprocess.run("bash", ["-c", ByteString(script), "sim", hook, scratch.path])
        #expect(!result.succeeded, "pre_src_install must die on a bogus KV_FULL: \(result)")
        #expect(result.stdoutText.contains("die:"))
        #expect(result.stderrText.contains("not a kernel version"), "\(result)")
        #expect((try? FS.lstat(witness)) == nil, "a command in KV_FULL was executed")
    }

    @Test("install refuses a file it did not write and writes nothing; remove deletes only its own")
    func installNeverOverwritesForeignFiles() throws {
        let root = try TemporaryDirectory("hooks-install")
        defer { root.remove() }
        let foreign = root["etc/portage/env/sys-kernel/vanilla-sources"]
        try FS.mkdirs(root["etc/portage/env/sys-kernel"])
        try FS.writeFile(foreign, Array("# the admin's own\n".utf8))

        let refused = try Ksqsh.run(["hooks", "install", "--root", root.path, "--package", "gentoo-sources", "--package", "vanilla-sources", "--init", "openrc"])
        #expect(refused.exitCode == 67)
        #expect(refused.stderrText.contains("vanilla-sources"))
        #expect((try? FS.lstat(root["etc/portage/env/sys-kernel/gentoo-sources"])) == nil, "nothing may be written when one file conflicts")

        expectSuccess(try Ksqsh.run(["hooks", "install", "--root", root.path, "--init", "both"]))
        expectSuccess(try Ksqsh.run(["hooks", "install", "--root", root.path, "--init", "both"]))  // a rerun updates its own files
        #expect(FS.exists(root["etc/kernel/postinst.d/90-ksqsh"]), "the installkernel plugin is installed")
        let wants = try FS.readlink(root["etc/systemd/system/local-fs.target.wants/ksqsh-mount.service"])
        #expect(wants == "../ksqsh-mount.service")

        expectSuccess(try Ksqsh.run(["hooks", "remove", "--root", root.path]))
        #expect(try FS.readFile(foreign) == Array("# the admin's own\n".utf8))
        for gone in ["etc/portage/env/sys-kernel/gentoo-sources", "etc/local.d/ksqsh.start", "etc/local.d/ksqsh.stop",
                     "etc/systemd/system/ksqsh-mount.service", "etc/systemd/system/local-fs.target.wants/ksqsh-mount.service",
                     "etc/kernel/postinst.d/90-ksqsh"] {
            #expect((try? FS.lstat(root[ByteString(gone)])) == nil, "\(gone) left behind")
        }
    }

    @Test("The hooks' probe, 'ksqsh --version', succeeds with nothing set: a failing probe means ksqsh cannot start")
    func versionProbeSucceeds() throws {
        let result = try Ksqsh.run(["--version"], environment: ["KV_FULL": nil, "WORKDIR": nil, "ROOT": nil, "EROOT": nil])
        #expect(result.succeeded && !result.stdoutText.isEmpty, "\(result)")
    }

    @Test("A hook newer than the helper makes it do nothing, successfully")
    func newerInterfaceDoesNothing() throws {
        let result = try Ksqsh.run(["hook", "--interface", "99", "pre_src_install"], environment: ["KV_FULL": "6.12.10-gentoo", "WORKDIR": "/nonexistent"])
        #expect(result.succeeded, "\(result)")
        #expect(result.stderrText.contains("interface 99"))
    }

    @Test("Under FEATURES=mount-sandbox, post_pkg_postinst warns first that its mount vanishes with the phase")
    func mountSandboxWarning() throws {
        let root = try TemporaryDirectory("hook-sandbox")
        defer { root.remove() }
        let environment: [String: String?] = ["ROOT": root.path.string, "KV_FULL": "6.12.10-gentoo", "MERGE_TYPE": "source", "PN": "gentoo-sources"]
        let sandboxed = try Ksqsh.run(["hook", "post_pkg_postinst"], environment: environment.merging(["FEATURES": "sandbox mount-sandbox"]) { $1 })
        expectSuccess(sandboxed)
        #expect(
            sandboxed.stdoutText.split(separator: "\n").first
                == "warning: FEATURES=mount-sandbox: this mount vanishes when the phase ends. The boot script or 'ksqsh mount --all' mounts it for good.",
            "\(sandboxed)")
        for phase in ["pre_pkg_prerm", "post_pkg_postrm"] {
            let other = try Ksqsh.run(["hook", ByteString(phase)], environment: environment.merging(["FEATURES": "mount-sandbox"]) { $1 })
            #expect(!other.stdoutText.contains("vanishes"), "only post_pkg_postinst mounts: \(other)")
        }
    }
}
