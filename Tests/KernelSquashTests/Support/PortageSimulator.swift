import Glibc
import Testing

/// Drives Fixtures/portage-phase-simulator.bash, the model of portage that
/// runs the generated env hook for real: real ksqsh, real images, real loop
/// mounts, under a scratch ROOT (see the script's header for what it models
/// and why).
///
/// One simulator is one machine: a ROOT (a `LifecycleRoot`) and the
/// simulator's own state beside it: `bin/ksqsh` (KSQSH_COPY, "the installed
/// ksqsh" the hooks call), `tmp/` (PORTAGE_TMPDIR, on a tmpfs as many
/// Gentoo systems have it, which also keeps the many small files of the
/// kernel tree cheap). `tearDown()` unmounts everything under both and
/// deletes them.
final class PortageSimulator {
    /// The bash driver, found from this file's path.
    static let script: ByteString = {
        let support = ByteString(#filePath).parent
        return support.parent / "Fixtures/portage-phase-simulator.bash"
    }()

    let root: LifecycleRoot
    /// The simulator's state directory (canonical path).
    let state: ByteString
    private let stateDirectory: TemporaryDirectory

    /// USE of the package.
    var use = "symlink"
    /// 8 (gentoo-sources' EAPI, ROOT without trailing slash) or 6.
    var eapi = 8
    /// How SLOT is derived: "pvr" (kernel-2.eclass, gentoo-sources) or "pv".
    var slotRule = "pvr"

    /// A new machine: a fresh ROOT (with an empty usr/src) and a fresh
    /// state directory whose tmp/ is a tmpfs.
    init(_ label: String) throws {
        root = try LifecycleRoot("portage-\(label)")
        let directory = try TemporaryDirectory("portage-state-\(label)")
        stateDirectory = directory
        state = FS.realPath(directory.path) ?? directory.path
        do {
            try FS.mkdirs(state / "tmp")
            try Subprocess.runChecked("mount", ["-t", "tmpfs", "-o", "size=1g,mode=0755", "portage-tmpdir", state / "tmp"], timeout: .seconds(30))
        } catch {
            root.tearDown()
            directory.remove()
            throw error
        }
    }

    // MARK: - Paths

    /// KSQSH_COPY: the ksqsh the generated hooks call.
    var helperCopy: ByteString { state / "bin/ksqsh" }
    /// PORTAGE_TMPDIR.
    var portageTemporaryDirectory: ByteString { state / "tmp" }

    /// KV_FULL of a gentoo-sources PVR: 6.12.10 → 6.12.10-gentoo, 6.12.10-r1 → 6.12.10-gentoo-r1.
    static func kernelVersion(_ pvr: String) -> ByteString { GentooSources.kernelVersion(pvr) }

    /// PORTAGE_BUILDDIR of a build (kept after the merge, like FEATURES=keepwork).
    func buildDirectory(_ pvr: String) -> ByteString { portageTemporaryDirectory / ByteString("portage/sys-kernel/gentoo-sources-\(pvr)") }
    func workdir(_ pvr: String) -> ByteString { buildDirectory(pvr) / "work" }
    /// S = WORKDIR/linux-KV_FULL.
    func sourceDirectory(_ pvr: String) -> ByteString { workdir(pvr) / ("linux-" + Self.kernelVersion(pvr)) }
    /// D (= ED, EPREFIX is empty).
    func imageDirectory(_ pvr: String) -> ByteString { buildDirectory(pvr) / "image" }

    /// The package's vdb entry, ROOT/var/db/pkg/sys-kernel/gentoo-sources-PVR.
    func vdb(_ pvr: String) -> ByteString { root.path / ByteString("var/db/pkg/sys-kernel/gentoo-sources-\(pvr)") }
    func isInstalled(_ pvr: String) -> Bool { FS.isDirectory(vdb(pvr)) }

    /// CONTENTS of an installed package, one line each.
    func contents(_ pvr: String) throws -> [String] {
        String(decoding: try FS.readFile(vdb(pvr) / "CONTENTS"), as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// The env hook ksqsh installed under ROOT.
    var envHook: ByteString { root.path / "etc/portage/env/sys-kernel/gentoo-sources" }

    // MARK: - Commands

    /// Runs one simulator command ("emerge", "unmerge", ...) against this
    /// machine; under `launcher` (a command line that ends by running its
    /// arguments, e.g. `unshare ... -- bash -c '...; exec "$@"'`) if given.
    @discardableResult
    func run(
        _ command: String, _ pvr: String? = nil, environment extra: [String: String?] = [:], launcher: [ByteString] = [], timeout: Duration = .seconds(240)
    ) throws -> SimulatorRun {
        // The skeleton is cut (once per machine) only when a test needs it.
        let tree: String?
        if let given = extra["SIM_KERNEL_TREE"] { tree = given } else { tree = try KernelSkeleton.kconfig.tree().string }
        var environment: [String: String?] = [
            "SIM_ROOT": root.path.string,
            "SIM_STATE": state.string,
            "SIM_KSQSH": try Ksqsh.binary().string,
            "SIM_KERNEL_TREE": tree,
            "SIM_USE": use,
            "SIM_EAPI": String(eapi),
            "SIM_SLOT": slotRule,
            "SIM_FEATURES": nil,
            "KSQSH_FALLBACK": nil, "KSQSH_PREPARE": nil,
        ]
        for (name, value) in extra { environment[name] = value }
        let arguments: [ByteString] = ["bash", Self.script, ByteString(command)] + (pvr.map { [ByteString($0)] } ?? [])
        let line = launcher + arguments
        return SimulatorRun(try Subprocess.run(line[0], Array(line.dropFirst()), environment: environment, timeout: timeout))
    }

    /// install-helper, then install-hooks: a machine with ksqsh and its hooks.
    func installKsqshAndHooks() throws {
        try run("install-helper").requireSuccess()
        try run("install-hooks").requireSuccess()
    }

    /// Unmounts everything below ROOT and the state, then deletes both.
    /// Never throws.
    func tearDown() {
        root.tearDown()
        Mounts.unmountAll(below: state)
        stateDirectory.remove()
    }
}

/// One run of the simulator: its output, and the phases it ran in order.
struct SimulatorRun: CustomStringConvertible {
    let result: ProcessResult

    init(_ result: ProcessResult) { self.result = result }

    var exitCode: Int32? { result.exitCode }
    var succeeded: Bool { result.succeeded }
    /// stdout and stderr, each whole (the hook's e* lines go to stderr).
    var output: String { result.stdoutText + "\n" + result.stderrText }

    /// The ">>> phase PHASE PF VARIABLES" lines, in order.
    var phases: [Phase] {
        result.stdoutText.split(separator: "\n").compactMap { line -> Phase? in
            guard line.hasPrefix(">>> phase ") else { return nil }
            let fields = line.dropFirst(">>> phase ".count).split(separator: " ", maxSplits: 2)
            guard fields.count >= 2 else { return nil }
            return Phase(name: String(fields[0]), pf: String(fields[1]), variables: fields.count > 2 ? String(fields[2]) : "")
        }
    }

    /// "pkg_preinst gentoo-sources-6.12.10" for every phase that hooks act in.
    var hookPhases: [String] {
        phases.filter { ["src_install", "pkg_preinst", "pkg_postinst", "pkg_prerm", "pkg_postrm"].contains($0.name) }.map { "\($0.name) \($0.pf)" }
    }

    struct Phase {
        let name: String
        let pf: String
        let variables: String
    }

    func contains(_ text: String) -> Bool { output.contains(text) }

    /// Lines of the output that contain `text`.
    func lines(containing text: String) -> [Substring] {
        output.split(separator: "\n").filter { $0.contains(text) }
    }

    @discardableResult
    func requireSuccess() throws -> SimulatorRun {
        guard succeeded else { throw TestSetupError("the portage simulator failed: \(self)") }
        return self
    }

    var description: String {
        let how = result.exitCode.map { "exit status \($0)" } ?? "killed"
        return "`\(result.command.dropFirst().map(\.description).joined(separator: " "))` → \(how) after \(result.duration)\n"
            + "--- stdout ---\n\(String(result.stdoutText.suffix(6000)))\n--- stderr ---\n\(String(result.stderrText.suffix(4000)))"
    }
}

/// Loop devices seen through the mount's own device number, as the kernel
/// lists them: /sys/dev/block/MAJ:MIN/loop/backing_file, " (deleted)" and all.
enum LoopBacking {
    /// The raw backing_file text of the loop device mounted at `target`
    /// (the topmost mount there), or nil if that is not a loop mount.
    static func rawBackingFile(mountedAt target: ByteString) -> String? {
        guard let bytes = try? FS.readFile("/proc/self/mountinfo") else { return nil }
        var device: String?
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4, ByteString(String(fields[4])) == target else { continue }
            device = String(fields[2])
        }
        guard let device, device.hasPrefix("7:") else { return nil }
        guard var text = try? FS.readFile(ByteString("/sys/dev/block/\(device)/loop/backing_file")) else { return nil }
        while text.last == UInt8(ascii: "\n") { text.removeLast() }
        return String(decoding: text, as: UTF8.self)
    }

    /// The raw backing_file text (" (deleted)" and all) of every loop
    /// device backed by a file under `directory`.
    static func backingFiles(under directory: ByteString) -> [String] {
        let names = (try? FS.list("/sys/block")) ?? []
        return names.filter { $0.string.hasPrefix("loop") }.compactMap { name -> String? in
            guard var text = try? FS.readFile("/sys/block" / name / "loop/backing_file") else { return nil }
            while text.last == UInt8(ascii: "\n") { text.removeLast() }
            let line = String(decoding: text, as: UTF8.self)
            return line.hasPrefix(directory.string + "/") ? line : nil
        }
    }

    /// Every loop device whose file was deleted while it was still attached
    /// and that was backed by a file under `directory`.
    static func deletedFiles(under directory: ByteString) -> [String] {
        backingFiles(under: directory).filter { $0.hasSuffix(" (deleted)") }
    }
}
