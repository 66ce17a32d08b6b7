import Foundation
import Glibc
import Testing

/// Conditions for the lifecycle suites, which loop-mount real images.
enum LifecycleRequirements {
    static var hasLoopDevices: Bool { access("/dev/loop-control", F_OK) == 0 }
    /// `ksqsh prepare` runs the kernel's own make: make, a C compiler, flex, bison.
    static var hasKernelBuildTools: Bool {
        ["make", "gcc", "flex", "bison"].allSatisfy(Subprocess.isInstalled)
    }
}

/// A scratch ROOT for the lifecycle commands: `ROOT/usr/src` with images,
/// mount points, build dirs, and `ROOT/etc/kernels`. Everything mounted
/// below it is unmounted by `tearDown()`, which every test calls in a
/// `defer` right after creating it.
final class LifecycleRoot {
    /// The version most tests use.
    static let version: ByteString = "6.12.10-gentoo"

    private let temporary: TemporaryDirectory
    /// The canonical path (mountinfo lists canonical paths).
    let path: ByteString

    init(_ label: String) throws {
        temporary = try TemporaryDirectory("lifecycle-\(label)")
        path = FS.realPath(temporary.path) ?? temporary.path
        try FS.mkdirs(path / "usr/src")
        // As on a real system: ksqsh adds only its own lock directory here.
        try FS.mkdirs(path / "run/lock")
    }

    var sources: ByteString { path / "usr/src" }
    var savedConfigs: ByteString { path / "etc/kernels" }
    /// ROOT/usr/src/linux.
    var symlink: ByteString { sources / "linux" }
    func image(_ version: ByteString = version) -> ByteString { sources / ("linux-" + version + ".sqfs") }
    func mountPoint(_ version: ByteString = version) -> ByteString { sources / ("linux-" + version) }
    func buildDirectory(_ version: ByteString = version) -> ByteString { sources / ("build-" + version) }
    func savedConfig(_ version: ByteString = version) -> ByteString { savedConfigs / ("kernel-config-" + version) }
    subscript(_ relative: ByteString) -> ByteString { path / relative }

    /// Copies the skeleton's image to ROOT/usr/src/linux-KV.sqfs.
    @discardableResult
    func installImage(_ version: ByteString = version, skeleton: KernelSkeleton = .kconfig) throws -> ByteString {
        let target = image(version)
        try FS.writeFile(target, FS.readFile(skeleton.image()))
        return target
    }

    /// A configured build dir as clean and the unmerge hook find it: a
    /// `.config` marked `marker`, and an object.
    func writeConfiguredBuildDirectory(marker: String) throws {
        try write(buildDirectory() / ".config", KernelConfig.withMarker(marker))
        try write(buildDirectory() / "kernel/fork.o", [1])
    }

    /// Writes a file, creating its parent directories.
    func write(_ path: ByteString, _ contents: [UInt8]) throws {
        try FS.mkdirs(path.parent)
        try FS.writeFile(path, contents)
    }

    /// `ksqsh SUBCOMMAND --root ROOT ARGUMENTS...`.
    @discardableResult
    func ksqsh(_ subcommand: ByteString, _ arguments: [ByteString] = [], timeout: Duration = .seconds(180)) throws -> ProcessResult {
        try Ksqsh.run([subcommand, "--root", path] + arguments, timeout: timeout)
    }

    /// `ksqsh SUBCOMMAND --root ROOT --kernel KV ARGUMENTS...`.
    @discardableResult
    func ksqsh(_ subcommand: ByteString, kernel version: ByteString, _ arguments: [ByteString] = [], timeout: Duration = .seconds(180)) throws -> ProcessResult {
        try ksqsh(subcommand, ["--kernel", version] + arguments, timeout: timeout)
    }

    /// Every mount at or below ROOT, in mount order.
    var mounts: [MountInfo.Entry] { MountInfo.entries().filter { $0.target == path || $0.target.isBelow(path) } }

    /// The mounts stacked exactly at `target`, bottom first.
    func mounts(at target: ByteString) -> [MountInfo.Entry] { MountInfo.entries().filter { $0.target == target } }

    /// Whether the topmost mount at linux-KV is a squashfs over linux-KV.sqfs.
    func isMounted(_ version: ByteString = version) -> Bool {
        guard let top = mounts(at: mountPoint(version)).last, top.fileSystem == "squashfs" else { return false }
        return LoopDevices.backingFile(of: top.source) == image(version)
    }

    func snapshot() throws -> RootSnapshot { try RootSnapshot.take(path) }

    /// Unmounts everything below ROOT (ksqsh first, then umount, then
    /// umount -l for anything left) and deletes ROOT. Never throws.
    func tearDown() {
        unmountAll()
        temporary.remove()
    }

    /// Unmounts everything below ROOT and keeps the files. Never throws.
    func unmountAll() {
        _ = try? Ksqsh.run(["umount", "--all", "--root", path], timeout: .seconds(60))
        unmountLeavingMountPoints()
    }

    /// Unmounts everything below ROOT with umount(8) alone, which leaves the
    /// mount points as they are (`ksqsh umount` removes those it made), as a
    /// power cut does. Never throws.
    func unmountLeavingMountPoints() {
        for _ in 0..<3 {
            let left = mounts
            if left.isEmpty { break }
            for entry in left.reversed() {
                if (try? Subprocess.run("umount", [entry.target], timeout: .seconds(30)))?.succeeded != true {
                    _ = try? Subprocess.run("umount", ["-l", entry.target], timeout: .seconds(30))
                }
            }
        }
    }
}

extension ByteString {
    /// Strictly inside `directory` (by path components, not by text prefix).
    func isBelow(_ directory: ByteString) -> Bool {
        let base = directory.bytes.last == UInt8(ascii: "/") ? directory.bytes : directory.bytes + [UInt8(ascii: "/")]
        return bytes.count > base.count && Array(bytes.prefix(base.count)) == base
    }

    func isSameOrBelow(_ directory: ByteString) -> Bool { self == directory || isBelow(directory) }
}

/// /proc/self/mountinfo, parsed.
enum MountInfo {
    struct Entry: Sendable, CustomStringConvertible {
        let target: ByteString
        /// The per-mount options (field 6), e.g. ["ro", "nosuid", "nodev", "relatime"].
        let mountOptions: [String]
        let fileSystem: String
        let source: ByteString
        let superOptions: [String]

        var description: String {
            "\(target) \(fileSystem) from \(source) (\(mountOptions.joined(separator: ",")))"
        }
    }

    static func entries() -> [Entry] {
        guard let bytes = try? FS.readFile("/proc/self/mountinfo") else { return [] }
        return bytes.split(separator: UInt8(ascii: "\n")).compactMap { line in
            let fields = line.split(separator: UInt8(ascii: " ")).map { unescape(Array($0)) }
            // ID PARENT MAJ:MIN ROOT TARGET OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
            guard fields.count >= 10, let dash = fields.firstIndex(of: Array("-".utf8)), dash >= 6, fields.count >= dash + 4 else { return nil }
            func text(_ field: [UInt8]) -> String { String(decoding: field, as: UTF8.self) }
            return Entry(
                target: ByteString(fields[4]),
                mountOptions: text(fields[5]).split(separator: ",").map(String.init),
                fileSystem: text(fields[dash + 1]),
                source: ByteString(fields[dash + 2]),
                superOptions: text(fields[dash + 3]).split(separator: ",").map(String.init))
        }
    }

    /// mountinfo writes space, tab, newline and backslash as \ooo.
    private static func unescape(_ field: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < field.count {
            if field[index] == UInt8(ascii: "\\"), index + 3 < field.count,
               let value = UInt8(String(decoding: field[(index + 1)...(index + 3)], as: UTF8.self), radix: 8) {
                out.append(value)
                index += 4
            } else {
                out.append(field[index])
                index += 1
            }
        }
        return out
    }
}

/// Loop devices and the files behind them (sysfs).
enum LoopDevices {
    /// The file behind /dev/loopN, without the kernel's " (deleted)" suffix.
    static func backingFile(of device: ByteString) -> ByteString? {
        guard device.string.hasPrefix("/dev/loop") else { return nil }
        let name = device.lastComponent
        guard var text = try? FS.readFile("/sys/block" / name / "loop/backing_file") else { return nil }
        while text.last == UInt8(ascii: "\n") { text.removeLast() }
        let deleted = Array(" (deleted)".utf8)
        if text.count > deleted.count, Array(text.suffix(deleted.count)) == deleted { text.removeLast(deleted.count) }
        return ByteString(text)
    }

    /// Every loop device currently backed by `file`.
    static func attached(to file: ByteString) -> [ByteString] {
        let names = (try? FS.list("/sys/block")) ?? []
        return names.filter { $0.string.hasPrefix("loop") }.map { "/dev" / $0 }.filter { backingFile(of: $0) == file }
    }
}

/// Everything under ROOT as lstat sees it (types, modes, owners, sizes,
/// file and symlink mtimes, contents, symlink targets) plus the mounts
/// below it. Directory mtimes and ROOT/run are left out; mounted
/// filesystems are recorded as mounts, not walked.
struct RootSnapshot: Sendable {
    var entries: [ByteString: String]
    var mounts: [String]

    static func take(_ root: ByteString) throws -> RootSnapshot {
        let rootDevice = try FS.lstat(root).st_dev
        var entries: [ByteString: String] = [:]
        func walk(_ absolute: ByteString, _ relative: ByteString) throws {
            let st = try FS.lstat(absolute)
            let type = EntryType(mode: st.st_mode)
            var line = "\(type.rawValue) 0\(String(st.st_mode & 0o7777, radix: 8)) \(st.st_uid):\(st.st_gid)"
            switch type {
            case .directory:
                if st.st_dev != rootDevice {
                    line += " (another filesystem)"
                } else {
                    // ROOT/run is runtime state, not what a command changes:
                    // ksqsh's per-version lock files live in run/lock/ksqsh.
                    for name in try FS.list(absolute) where !(relative == "." && name == "run") {
                        try walk(absolute / name, relative == "." ? name : relative / name)
                    }
                }
            case .symlink:
                line += " -> \(try FS.readlink(absolute)) mtime \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
            case .file:
                line += " \(st.st_size) bytes, mtime \(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec), hash \(String(try ContentHash.ofFile(absolute), radix: 16))"
            default:
                break
            }
            entries[relative] = line
        }
        try walk(root, ".")
        let mounts = MountInfo.entries()
            .filter { $0.target == root || $0.target.isBelow(root) }
            .map { "\($0.target) \($0.fileSystem) \($0.source) \($0.mountOptions.joined(separator: ","))" }
        return RootSnapshot(entries: entries, mounts: mounts)
    }

    /// What differs in `after`, one line each: the path (relative to ROOT)
    /// and how. Below an added or removed directory only the directory is
    /// listed.
    func changes(to after: RootSnapshot) -> [(path: ByteString, text: String)] {
        var found: [(path: ByteString, text: String)] = []
        let removed = Set(entries.keys.filter { after.entries[$0] == nil })
        let added = Set(after.entries.keys.filter { entries[$0] == nil })
        for (path, line) in entries.sorted(by: { $0.key < $1.key }) {
            if let now = after.entries[path] {
                if now != line { found.append((path, "\(path): was \(line), now \(now)")) }
            } else if !removed.contains(path.parent) {
                found.append((path, "\(path): removed (was \(line))"))
            }
        }
        for (path, line) in after.entries.sorted(by: { $0.key < $1.key }) where entries[path] == nil && !added.contains(path.parent) {
            found.append((path, "\(path): added (\(line))"))
        }
        if mounts != after.mounts {
            found.append(("/proc/self/mountinfo", "mounts under ROOT were \(mounts), now \(after.mounts)"))
        }
        return found
    }

    /// The changes as text for a failure message, at most `limit` lines.
    static func describe(_ changes: [(path: ByteString, text: String)], limit: Int = 25) -> String {
        var lines = changes.prefix(limit).map(\.text)
        if changes.count > limit { lines.append("… and \(changes.count - limit) more") }
        return lines.joined(separator: "\n")
    }
}

/// Expects a refusal as the CLI contract describes it: the documented exit
/// status, exactly one line on stderr ("ksqsh: PATH: …") naming each of
/// `naming`, and nothing under ROOT changed except at `allowedChanges`
/// (paths relative to ROOT, with everything below them).
func expectRefusal(
    _ result: ProcessResult, exit expected: Int32, naming paths: [ByteString], in root: LifecycleRoot,
    before: RootSnapshot, allowedChanges: [ByteString] = [], sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(result.exitCode == expected, "expected exit status \(expected): \(result)", sourceLocation: sourceLocation)
    #expect(result.stderrLines.count == 1, "stderr must be exactly one line: \(result)", sourceLocation: sourceLocation)
    for path in paths {
        #expect(result.stderr.firstIndex(of: path.bytes) != nil, "stderr must name \(path): \(result)", sourceLocation: sourceLocation)
    }
    guard let after = try? root.snapshot() else {
        Issue.record("ROOT \(root.path) can no longer be listed", sourceLocation: sourceLocation)
        return
    }
    // An allowed path may bring its missing parent directories with it.
    let unexpected = before.changes(to: after).filter { change in
        !allowedChanges.contains { change.path.isSameOrBelow($0) || $0.isBelow(change.path) }
    }
    let nothingElseChanged = unexpected.isEmpty
    #expect(
        nothingElseChanged,
        "nothing under ROOT may change on this failure, but:\n\(RootSnapshot.describe(unexpected))\n(after `\(result.command.map(\.description).joined(separator: " "))`)",
        sourceLocation: sourceLocation)
}

/// Expects ksqsh to have succeeded and returns its stdout lines.
@discardableResult
func expectCompleted(_ result: ProcessResult, printing fragments: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) -> [Substring] {
    #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
    for fragment in fragments {
        #expect(result.stdoutText.contains(fragment), "stdout should contain \"\(fragment)\": \(result)", sourceLocation: sourceLocation)
    }
    return result.stdoutText.split(separator: "\n")
}

/// Kernel .config files with a marker that survives `make olddefconfig`:
/// CONFIG_LOCALVERSION is a real string option, kept as written.
enum KernelConfig {
    static func withMarker(_ marker: String) -> [UInt8] {
        Array("# test config \(marker)\nCONFIG_LOCALVERSION=\"-\(marker)\"\n".utf8)
    }

    /// The value of CONFIG_LOCALVERSION without quotes, or nil.
    static func localVersion(of path: ByteString) -> String? {
        guard let bytes = try? FS.readFile(path) else { return nil }
        return localVersion(in: String(decoding: bytes, as: UTF8.self))
    }

    static func localVersion(in text: String) -> String? {
        for line in text.split(separator: "\n") where line.hasPrefix("CONFIG_LOCALVERSION=") {
            return String(line.dropFirst("CONFIG_LOCALVERSION=".count)).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        return nil
    }

    /// How many options are set (`CONFIG_…=` lines): a config that went
    /// through olddefconfig has hundreds, a hand-written one a few.
    static func optionCount(of path: ByteString) -> Int {
        guard let bytes = try? FS.readFile(path) else { return 0 }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").filter { $0.hasPrefix("CONFIG_") }.count
    }
}

/// `ksqsh status --json`.
struct StatusReport: Decodable {
    let root: String
    let symlink: String?
    let kernels: [Kernel]

    struct Kernel: Decodable {
        let version: String
        let image: String?
        let mountPoint: String
        let loopDevice: String?
        let buildDirectory: String?
        let configured: Bool
        let built: Bool?
        let savedConfig: String?
        let symlinked: Bool?
        let problems: [String]
    }

    subscript(_ version: String) -> Kernel? { kernels.first { $0.version == version } }

    static func decode(_ result: ProcessResult) throws -> StatusReport {
        try JSONDecoder().decode(StatusReport.self, from: Data(result.stdout))
    }
}

/// A process that keeps a directory busy: `sleep 30` with its working
/// directory there. Stop it in a `defer`.
final class BusyHolder {
    let process = Process()
    var pid: Int32 { process.processIdentifier }

    init(workingDirectory: ByteString) throws {
        process.executableURL = URL(fileURLWithPath: "/bin/sleep")
        process.arguments = ["30"]
        process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory.string, isDirectory: true)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The working directory is set before exec, the command name at
        // exec: wait until /proc shows both, or ksqsh could name the parent.
        let deadline = ContinuousClock.now + .seconds(5)
        while (try? FS.readlink(ByteString("/proc/\(pid)/cwd"))) != workingDirectory
            || (try? FS.readFile(ByteString("/proc/\(pid)/comm"))) != Array("sleep\n".utf8) {
            guard ContinuousClock.now < deadline else {
                stop()
                throw TestSetupError("sleep (pid \(pid)) did not get its working directory \(workingDirectory)")
            }
            usleep(10_000)
        }
    }

    func stop() {
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Runs the kernel's make in an unpacked tree (ARCH unset, as ksqsh does).
func kernelMake(_ tree: ByteString, _ target: ByteString) throws {
    try Subprocess.runChecked(
        "make", ["-C", tree, "-s", target],
        environment: ["ARCH": nil, "KBUILD_OUTPUT": nil, "O": nil], timeout: .seconds(300))
}

/// `cp -a SOURCE TARGET`.
func copyTree(_ source: ByteString, to target: ByteString) throws {
    try Subprocess.runChecked("cp", ["-a", "--", source, target], timeout: .seconds(300))
}

