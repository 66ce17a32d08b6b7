import Glibc
import Testing

/// The portage model itself (Fixtures/portage-phase-simulator.bash), checked
/// with a recording hook instead of ksqsh's: the scenarios are only as good
/// as the simulator's phases, variables and hook loading.
@Suite("Portage: the phase simulator models portage", .serialized)
struct PortageSimulatorTests {
    @Test("The simulator passes shellcheck", .enabled(if: Subprocess.isInstalled("shellcheck"), "shellcheck is not installed"))
    func shellcheckClean() throws {
        let result = try Subprocess.run("shellcheck", ["-s", "bash", PortageSimulator.script])
        #expect(result.succeeded, "\(result)")
    }

    @Test(
        "Phases get portage's variables, hooks run in portage's order, a hook's return code is ignored",
        .enabled(if: getuid() == 0, "the simulator chowns the unpacked tree and mounts a tmpfs: needs root"))
    func variablesAndOrder() throws {
        let sim = try PortageSimulator("sim-variables")
        defer { sim.tearDown() }
        let tree = try Self.tinyTree(in: sim)
        try Self.writeRecordingHook(sim, source: "disk")

        let fresh = try sim.run("emerge", "6.12.10", environment: ["SIM_KERNEL_TREE": tree.string])
        try #require(fresh.succeeded, "\(fresh)")
        let calls = Self.records(fresh)
        #expect(calls.map(\.hook) == ["pre_src_install", "post_src_install", "pre_pkg_preinst", "post_pkg_postinst"], "\(fresh)")

        let build = sim.buildDirectory("6.12.10").string
        let root = sim.root.path.string
        let install = try #require(calls.first)
        // EAPI 8: no trailing slash on ROOT, EROOT, D, ED (config.py).
        #expect(install["ROOT"] == root && install["EROOT"] == root)
        #expect(install["D"] == build + "/image" && install["ED"] == build + "/image")
        #expect(install["WORKDIR"] == build + "/work" && install["T"] == build + "/temp")
        #expect(install["KV_FULL"] == "6.12.10-gentoo" && install["PVR"] == "6.12.10" && install["SLOT"] == "6.12.10")
        #expect(install["MERGE_TYPE"] == "source" && install["ARCH"] == "amd64" && install["USE"] == "symlink")
        #expect(install["REPLACING_VERSIONS"] == "(unset)" && install["REPLACED_BY_VERSION"] == "(unset)")
        #expect(calls[2]["REPLACING_VERSIONS"] == "" && calls[3]["REPLACING_VERSIONS"] == "", "preinst/postinst have REPLACING_VERSIONS, empty on a fresh install")
        // kernel-2's postinst ran before post_pkg_postinst.
        #expect(calls[3]["LINK"] == "linux-6.12.10-gentoo")

        // A reinstall: the old instance's prerm/postrm come between the merge
        // and the new postinst, from the ._unmerge_ build dir.
        let again = try sim.run("emerge", "6.12.10", environment: ["SIM_KERNEL_TREE": tree.string])
        try #require(again.succeeded, "\(again)")
        let replaced = Self.records(again)
        #expect(
            replaced.map(\.hook) == ["pre_src_install", "post_src_install", "pre_pkg_preinst", "pre_pkg_prerm", "post_pkg_postrm", "post_pkg_postinst"],
            "\(again)")
        for call in replaced where call.hook.hasSuffix("rm") {
            #expect(call["REPLACED_BY_VERSION"] == "6.12.10" && call["MERGE_TYPE"] == "", "\(call.hook): \(call.fields)")
            #expect(call["WORKDIR"]?.contains("/portage/._unmerge_/sys-kernel/gentoo-sources-6.12.10/") == true, "\(call.fields)")
            #expect(call["REPLACING_VERSIONS"] == "(unset)")
        }
        #expect(replaced.last?["REPLACING_VERSIONS"] == "6.12.10")

        // The old CONTENTS was not unmerged from under the new package.
        #expect(again.contains("--- replaced obj /usr/src/linux-6.12.10-gentoo/Makefile"), "\(again)")
        #expect(FS.exists(sim.root.mountPoint("6.12.10-gentoo") / "Makefile"))
    }

    @Test(
        "Trailing slashes as EAPI 6 has them",
        .enabled(if: getuid() == 0, "the simulator chowns the unpacked tree and mounts a tmpfs: needs root"))
    func eapi6Paths() throws {
        let sim = try PortageSimulator("sim-eapi6")
        defer { sim.tearDown() }
        sim.eapi = 6
        let tree = try Self.tinyTree(in: sim)
        try Self.writeRecordingHook(sim, source: "disk")
        let run = try sim.run("emerge", "6.12.10", environment: ["SIM_KERNEL_TREE": tree.string])
        try #require(run.succeeded, "\(run)")
        let install = try #require(Self.records(run).first)
        #expect(install["ROOT"] == sim.root.path.string + "/" && install["EROOT"] == sim.root.path.string + "/")
        #expect(install["D"] == sim.buildDirectory("6.12.10").string + "/image/")
    }

    @Test(
        "Unmerge runs the saved hooks, and the env file on disk wins over them",
        .enabled(if: getuid() == 0, "the simulator chowns the unpacked tree and mounts a tmpfs: needs root"))
    func savedHooks() throws {
        let sim = try PortageSimulator("sim-saved")
        defer { sim.tearDown() }
        let tree = try Self.tinyTree(in: sim)
        let environment: [String: String?] = ["SIM_KERNEL_TREE": tree.string]

        // The env file was deleted after the install: the saved copy runs.
        try Self.writeRecordingHook(sim, source: "at-install")
        try sim.run("emerge", "6.12.10", environment: environment).requireSuccess()
        try FS.unlink(sim.envHook)
        let unmerged = try sim.run("unmerge", "6.12.10", environment: environment)
        try #require(unmerged.succeeded, "\(unmerged)")
        #expect(Self.records(unmerged).map { "\($0.hook) \($0["SOURCE"] ?? "")" } == ["pre_pkg_prerm at-install", "post_pkg_postrm at-install"], "\(unmerged)")
        #expect(!sim.isInstalled("6.12.10") && !FS.exists(sim.root.mountPoint("6.12.10-gentoo")))

        // The env file changed after the install: the file on disk wins.
        try Self.writeRecordingHook(sim, source: "at-install")
        try sim.run("emerge", "6.12.10", environment: environment).requireSuccess()
        try Self.writeRecordingHook(sim, source: "edited")
        let edited = try sim.run("unmerge", "6.12.10", environment: environment)
        try #require(edited.succeeded, "\(edited)")
        #expect(Self.records(edited).map { $0["SOURCE"] ?? "" } == ["edited", "edited"], "\(edited)")
    }

    @Test(
        "The hooks find only the simulator's ksqsh, never one installed on the machine, and none once it is removed",
        .enabled(if: getuid() == 0, "the simulator chowns the unpacked tree and mounts a tmpfs: needs root"),
        .enabled(if: Subprocess.isInstalled("unshare"), "needs unshare (util-linux) for a private /usr/local/bin"))
    func installedKsqshIsNeverUsed() throws {
        let sim = try PortageSimulator("sim-installed-ksqsh")
        defer { sim.tearDown() }
        let tree = try Self.tinyTree(in: sim)
        // /usr/local/bin/ksqsh as `make setup` installs it, for the simulator's
        // eyes only: a private mount namespace covers /usr/local/bin with a
        // tmpfs holding a stand-in that leaves a witness if anything runs it.
        let witness = sim.state / "installed-ksqsh-ran"
        let installed = sim.state / "installed-ksqsh"
        try FS.writeFile(installed, Array("#!/bin/sh\ntouch '\(witness)'\n".utf8), mode: 0o755)
        let launcher: [ByteString] = [
            "unshare", "--mount", "--propagation", "private", "--", "bash", "-c",
            #"mount -t tmpfs -o size=1m,mode=0755 installed /usr/local/bin && install -m 0755 "$0" /usr/local/bin/ksqsh && exec "$@""#, installed,
        ]
        let hook = """
            pre_src_install() { printf 'FOUND [%s]\\n' "$(type -ap ksqsh | paste -sd ' ')"; }

            """
        try sim.root.write(sim.envHook, Array(hook.utf8))
        let environment: [String: String?] = ["SIM_KERNEL_TREE": tree.string]

        try sim.run("install-helper", launcher: launcher).requireSuccess()
        let with = try sim.run("emerge", "6.12.10", environment: environment, launcher: launcher)
        try #require(with.succeeded, "\(with)")
        #expect(with.lines(containing: "FOUND [").map(String.init) == ["FOUND [\(sim.helperCopy)]"], "\(with)")

        try sim.run("remove-helper", launcher: launcher).requireSuccess()
        let without = try sim.run("emerge", "6.12.10", environment: environment, launcher: launcher)
        try #require(without.succeeded, "\(without)")
        #expect(without.lines(containing: "FOUND [").map(String.init) == ["FOUND []"], "\(without)")
        #expect(!FS.exists(witness), "the installed ksqsh was run")
    }

    // MARK: - Helpers

    /// A "kernel tree" of two files: enough for the phases, nothing to squash.
    static func tinyTree(in sim: PortageSimulator) throws -> ByteString {
        let tree = sim.state / "tiny-tree"
        try FS.mkdirs(tree / "scripts")
        try FS.writeFile(tree / "Makefile", Array("VERSION = 6\n".utf8))
        try FS.writeFile(tree / "scripts/Kconfig.include", Array("# empty\n".utf8))
        return tree
    }

    /// An env file (not ksqsh's) whose hooks print one HOOK line each with
    /// the variables they see; pre_pkg_preinst returns 1, which portage ignores.
    static func writeRecordingHook(_ sim: PortageSimulator, source: String) throws {
        let text = """
            _record() {
            \tprintf 'HOOK %s' "$1"
            \tlocal name
            \tfor name in ROOT EROOT D ED WORKDIR T KV_FULL PVR SLOT MERGE_TYPE USE REPLACING_VERSIONS REPLACED_BY_VERSION; do
            \t\tif [[ -v ${name} ]]; then printf ' %s=%s' "${name}" "${!name}"; else printf ' %s=(unset)' "${name}"; fi
            \tdone
            \tprintf ' ARCH=%s LINK=%s SOURCE=\(source)\\n' "$(printenv ARCH)" "$(readlink "${EROOT%/}/usr/src/linux")"
            }
            pre_src_install() { _record pre_src_install; }
            post_src_install() { _record post_src_install; }
            pre_pkg_preinst() { _record pre_pkg_preinst; return 1; }
            post_pkg_postinst() { _record post_pkg_postinst; }
            pre_pkg_prerm() { _record pre_pkg_prerm; }
            post_pkg_postrm() { _record post_pkg_postrm; }

            """
        try sim.root.write(sim.envHook, Array(text.utf8))
    }

    struct Record {
        let hook: String
        let fields: [String: String]
        subscript(_ name: String) -> String? { fields[name] }
    }

    /// The HOOK lines of a run, parsed (values here contain no spaces).
    static func records(_ run: SimulatorRun) -> [Record] {
        run.result.stdoutText.split(separator: "\n").compactMap { line -> Record? in
            guard line.hasPrefix("HOOK ") else { return nil }
            let words = line.split(separator: " ", omittingEmptySubsequences: false).dropFirst()
            guard let hook = words.first else { return nil }
            var fields: [String: String] = [:]
            for word in words.dropFirst() {
                guard let equals = word.firstIndex(of: "=") else { continue }
                fields[String(word[..<equals])] = String(word[word.index(after: equals)...])
            }
            return Record(hook: String(hook), fields: fields)
        }
    }
}
