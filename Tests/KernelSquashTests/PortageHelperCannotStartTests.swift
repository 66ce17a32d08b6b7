import Glibc
import Testing

/// A ksqsh that is installed but cannot start, as the hooks meet it: a file
/// at the helper's path that fails before doing anything.
struct BrokenHelper: Sendable, CustomTestStringConvertible {
    let name: String
    let contents: [UInt8]
    /// What the hooks must report as the cause, in the order given.
    let cause: [String]

    var testDescription: String { name }

    static func script(_ body: String) -> [UInt8] { Array("#!/bin/sh\n\(body)\n".utf8) }

    /// The die message names the cause, in order, and both fixes; the
    /// phase's whole output never blames the squash.
    func expectNamed(in message: String, output: String, sourceLocation: SourceLocation = #_sourceLocation) {
        var rest = Substring(message)
        for part in cause {
            guard let found = rest.range(of: part) else {
                Issue.record("the die message does not say '\(part)' (in this order: \(cause)):\n\(output)", sourceLocation: sourceLocation)
                break
            }
            rest = rest[found.upperBound...]
        }
        #expect(message.contains("Reinstall ksqsh") && message.contains("KSQSH_FALLBACK=plain"), "the die message should name both fixes:\n\(output)", sourceLocation: sourceLocation)
        #expect(!output.contains("could not squash"), "\(output)", sourceLocation: sourceLocation)
    }

    /// What ld.so prints and returns when a library is missing: what a
    /// dynamically linked ksqsh does after its Swift runtime was removed.
    static let loaderError = #"echo "$0: error while loading shared libraries: libswiftCore.so: cannot open shared object file: No such file or directory" >&2; exit 127"#

    /// An ELF header for IA-64 (e_machine 50): the kernel refuses to run it
    /// (ENOEXEC), and no binfmt_misc emulator (qemu-user) takes it instead.
    static let ia64Header: [UInt8] = {
        var header = [UInt8](repeating: 0, count: 64)
        header.replaceSubrange(0..<8, with: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0])  // ELF, 64-bit, little-endian, version 1
        header[16] = 2  // e_type: executable
        header[18] = 50  // e_machine: IA-64
        header[20] = 1  // e_version
        return header
    }()

    static let all: [BrokenHelper] = [
        BrokenHelper(name: "a shared library is missing", contents: script(loaderError), cause: ["--version' exited with status 127: ", "error while loading shared libraries: libswiftCore.so"]),
        BrokenHelper(name: "built for another architecture", contents: ia64Header, cause: ["--version' exited with status 126: ", "Exec format error"]),
        BrokenHelper(name: "killed by a signal", contents: script("kill -KILL $$"), cause: ["--version' was killed by SIGKILL"]),
        BrokenHelper(
            name: "starts for --version, fails to start for the phase", contents: script(#"[ "$1" = --version ] && { echo 0.1.0; exit 0; }; "# + loaderError),
            cause: ["hook' exited with status 127 (see above)"]),
    ]
}

extension PortageScenarioTests {
    // MARK: - 9. ksqsh installed but unable to start

    /// Sources the generated hook with portage's output functions printing
    /// what they are given, and runs one phase function.
    static let phaseDriver = """
        ebegin() { :; }; eend() { :; }; ewarn() { echo "warn: $*"; }; eerror() { echo "error: $*"; }
        die() { echo "die: $*"; exit 1; }
        source "$1" || exit 99
        KV_FULL=$2 ROOT=$3 "$4"
        """

    @Test("9. each way of not starting is named in src_install's die message, in the order the hook meets it, with both fixes", arguments: BrokenHelper.all)
    func causeNamed(helper: BrokenHelper) throws {
        let directory = try TemporaryDirectory("broken-cause")
        defer { directory.remove() }
        let broken = directory["ksqsh"]
        try FS.writeFile(broken, helper.contents, mode: 0o755)
        let printed = try Ksqsh.run(["hooks", "print", "--helper", broken])
        try #require(printed.succeeded, "\(printed)")
        let hook = directory["gentoo-sources"]
        try FS.writeFile(hook, printed.stdout)

        let run = try Subprocess.run("bash", ["-c", ByteString(Self.phaseDriver), "driver", hook, Self.kernel, directory.path, "pre_src_install"])
        #expect(run.exitCode == 1, "the phase must die:\n\(run)")
        let output = run.stdoutText
        let message = output.split(separator: "\n").filter { $0.hasPrefix("die: ksqsh is installed but cannot start: ") }.joined(separator: "\n")
        #expect(message.contains(broken.string), "\(run)")
        helper.expectNamed(in: message, output: output)
    }

    /// The whole story once (the causes each are checked above, in milliseconds).
    @Test(
        "9. ksqsh installed but unable to start counts as missing: src_install dies naming the cause and both fixes; with KSQSH_FALLBACK=plain every phase warns and goes on; prerm unmounts without it, postrm keeps the build dir and .config",
        arguments: [BrokenHelper.all[0]])
    func helperCannotStart(helper: BrokenHelper) throws {
        let sim = try PortageSimulator("broken-helper")
        defer { sim.tearDown() }
        try sim.installKsqshAndHooks()
        try sim.run("emerge", Self.version).requireSuccess()
        let root = sim.root
        let kv = Self.kernel
        try KernelConfig.mark(root.buildDirectory(kv) / ".config", "marker")

        // The installed ksqsh breaks: the hooks still find a file at its path.
        let broken = sim.state / "broken-ksqsh"
        try FS.writeFile(broken, helper.contents, mode: 0o755)
        try sim.run("install-helper", environment: ["SIM_KSQSH": broken.string]).requireSuccess()

        // The squash: the build stops with the cause, not "could not squash".
        let rebuild = try sim.run("emerge", Self.version)
        #expect(rebuild.exitCode == 1, "the build must fail:\n\(rebuild)")
        let message = rebuild.lines(containing: "ksqsh is installed but cannot start: ").joined(separator: "\n")
        #expect(rebuild.contains("failed (install phase)") && message.contains(sim.helperCopy.string), "\(rebuild)")
        helper.expectNamed(in: message, output: rebuild.output)
        try expectSourcesIntact(sim, Self.version)
        // The installed version is as it was.
        #expect(sim.isInstalled(Self.version))
        try expectMountedOnce(sim, kv)

        // The user chose plain sources: every phase warns and does nothing.
        let plain = try sim.run("emerge", "6.12.11", environment: ["KSQSH_FALLBACK": "plain"])
        try #require(plain.succeeded, "\(plain)")
        #expect(plain.lines(containing: "ksqsh is installed but cannot start: ").count == 4, "pre/post_src_install, preinst, postinst:\n\(plain)")
        #expect(!plain.contains("FAILED") && !plain.contains("ERROR"), "\(plain)")
        #expect(FS.exists(root.mountPoint("6.12.11-gentoo") / "Makefile") && !FS.exists(root.image("6.12.11-gentoo")), "6.12.11 should be installed as plain sources")

        // The unmerge: prerm unmounts without it, exactly this version's mount.
        let unmerge = try sim.run("unmerge", Self.version)
        try #require(unmerge.succeeded, "\(unmerge)")
        #expect(unmerge.lines(containing: "ksqsh is installed but cannot start: ").count == 2, "prerm and postrm:\n\(unmerge)")
        #expect(!unmerge.contains("FAILED") && !unmerge.contains("ERROR"), "\(unmerge)")
        #expect(unmerge.lines(containing: "unmounted \(root.mountPoint(kv)) without ksqsh").count == 1, "\(unmerge)")
        #expect(root.mounts.isEmpty, "mounts left under ROOT: \(root.mounts)")
        #expect(!FS.exists(root.mountPoint(kv)), "the empty mount point should go with the mount")
        #expect(!FS.exists(root.image(kv)) && !sim.isInstalled(Self.version))
        #expect(LoopBacking.deletedFiles(under: root.path).isEmpty, "a loop device still holds the deleted image")
        // postrm kept what only ksqsh may retire: the build dir and its .config.
        #expect(FS.isDirectory(root.buildDirectory(kv)))
        #expect(KernelConfig.localVersion(of: root.buildDirectory(kv) / ".config") == "-marker")
        #expect(FS.exists(root.mountPoint("6.12.11-gentoo") / "Makefile"), "the other version was touched")
    }

    @Test(
        "9. The real thing: ksqsh whose Swift runtime is gone (the toolchain hidden in a private mount namespace) stops src_install, naming the missing library",
        .enabled(if: PortageScenarioTests.ksqshLoadsSwiftRuntime, "the ksqsh under test does not load the Swift runtime from the toolchain"),
        .enabled(if: Subprocess.isInstalled("unshare") && Subprocess.isInstalled("swift"), "needs unshare and the swift driver on PATH"))
    func helperWithoutSwiftRuntime() throws {
        let sim = try PortageSimulator("no-swift-runtime")
        defer { sim.tearDown() }
        try sim.installKsqshAndHooks()
        let script = ByteString(#filePath).parent.parent.parent / "scripts/without-swift-toolchain"
        let run = try sim.run("emerge", Self.version, launcher: [script])
        #expect(run.exitCode == 1, "the build must fail:\n\(run)")
        let message = run.lines(containing: "ksqsh is installed but cannot start: ").joined(separator: "\n")
        #expect(message.contains("--version' exited with status 127: ") && message.contains("error while loading shared libraries: libswift"), "\(run)")
        #expect(message.contains("Reinstall ksqsh") && message.contains("KSQSH_FALLBACK=plain"), "\(run)")
        try expectSourcesIntact(sim, Self.version)
        try expectNothingMerged(sim, Self.version, Self.kernel)
    }

    /// Whether the ksqsh under test loads libswift*.so at run time (a build
    /// without -static-stdlib), so that hiding the toolchain breaks it.
    static let ksqshLoadsSwiftRuntime: Bool = {
        guard let binary = try? Ksqsh.binary(), let ldd = try? Subprocess.run("ldd", [binary]) else { return false }
        return ldd.succeeded && ldd.stdoutText.contains("libswiftCore.so")
    }()
}
