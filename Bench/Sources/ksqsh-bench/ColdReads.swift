import Foundation
import Glibc
import Mounting
import SystemSupport

/// What a kernel build reads from on a cold page cache: the unpacked tree,
/// or a squashfs image of it loop-mounted read-only.
struct ColdSource {
    enum Role { case plainTree, mksquashfs, ksqsh }

    let label: String
    let role: Role
    /// nil: the plain tree itself.
    let image: String?
    /// A short name for mount points, build dirs and logs.
    let name: String
}

/// The two steps a Gentoo kernel-module build runs against the sources, in order.
enum KernelStep: String, CaseIterable {
    case defconfig
    case modulesPrepare = "modules_prepare"
}

/// Seconds per step for one source; empty after a failure.
struct ColdReadRow {
    let source: ColdSource
    var seconds: [KernelStep: [Double]] = [:]
    /// Bytes read from the image's loop device (images only).
    var imageBytes: [KernelStep: [Double]] = [:]
    var failed = false

    func median(_ step: KernelStep) -> Double? {
        Self.median(seconds[step], unless: failed)
    }

    func medianImageBytes(_ step: KernelStep) -> Double? {
        Self.median(imageBytes[step], unless: failed)
    }

    private static func median(_ samples: [Double]?, unless failed: Bool) -> Double? {
        guard !failed, let samples, !samples.isEmpty else { return nil }
        return samples.median
    }
}

/// Times `make defconfig` and then `make modules_prepare` from each source
/// with every cache dropped before each step. Sources take turns in every
/// run, like the compression rows, so drift spreads over all of them.
struct ColdReads {
    let tree: String
    let sources: [ColdSource]
    let scratch: Scratch
    let jobs: Int
    let runs: Int

    /// The three sources of the issue's table: the tree, then both images of it.
    static func sources(ksqshImage: String, mksquashfsImage: String) -> [ColdSource] {
        [
            ColdSource(label: "plain tree", role: .plainTree, image: nil, name: "plain"),
            ColdSource(label: "mksquashfs image", role: .mksquashfs, image: mksquashfsImage, name: "mksquashfs"),
            ColdSource(label: "ksqsh image", role: .ksqsh, image: ksqshImage, name: "ksqsh"),
        ]
    }

    /// Why cold reads cannot run here, or nil when they can.
    static func obstacle() -> String? {
        if !MountEnvironment.isRoot { return "cold reads need root (loop mounts, /proc/sys/vm/drop_caches)" }
        if Executables.find("make") == nil { return "make is not on PATH (install the kernel build deps: `make deps`)" }
        return nil
    }

    func measure() throws -> [ColdReadRow] {
        guard let make = Executables.find("make") else { throw BenchError("make is not on PATH") }
        var rows = sources.map { ColdReadRow(source: $0) }
        for run in 1...runs {
            for index in rows.indices where !rows[index].failed {
                let prefix = runs == 1 ? "" : "[run \(run)/\(runs)] "
                print("\(prefix)cold reads from the \(rows[index].source.label)")
                Console.flush()
                try measureOnce(&rows[index], make: make)
            }
        }
        return rows
    }

    /// One run of both steps from one source, in a fresh build dir.
    private func measureOnce(_ row: inout ColdReadRow, make: String) throws {
        let source = row.source
        var mount: ReadOnlyMount?
        defer { mount?.unmount() }
        if let image = source.image {
            mount = try ReadOnlyMount(image: image, at: "\(scratch.path)/mnt-\(source.name)")
        }
        let sourceDirectory = mount?.target ?? tree

        // A fresh, empty build dir on the same real disk for every source and run.
        let build = "\(scratch.path)/build-\(source.name)"
        let files = FileManager.default
        try? files.removeItem(atPath: build)
        try files.createDirectory(atPath: build, withIntermediateDirectories: true)
        defer { try? files.removeItem(atPath: build) }

        for step in KernelStep.allCases {
            try PageCache.drop()
            let readBefore = mount?.bytesReadFromImage
            let child = ChildProcess(
                executable: make, arguments: ["-C", sourceDirectory, "O=\(build)", "-j\(jobs)", step.rawValue],
                stdoutPath: "\(scratch.path)/\(source.name)-\(step.rawValue).stdout",
                stderrPath: "\(scratch.path)/\(source.name)-\(step.rawValue).stderr",
                environment: Self.buildEnvironment(), ownProcessGroup: true)
            let usage = try child.run()
            try Interruption.check()
            guard usage.termination.succeeded else {
                Console.error(
                    """
                    !!! FAILED: make \(step.rawValue) from the \(source.label) ended with \(usage.termination)
                    !!! command: \(make) -C \(sourceDirectory) O=\(build) -j\(jobs) \(step.rawValue)
                    !!! last lines of its stderr:
                    \(Logs.tail(of: child.stderrPath))
                    """)
                row.failed = true
                return
            }
            row.seconds[step, default: []].append(usage.wallSeconds)
            var line = "  \(step.rawValue): \(String(format: "%.2f", usage.wallSeconds)) s"
            if let readBefore, let readAfter = mount?.bytesReadFromImage {
                let bytes = Double(readAfter - readBefore)
                row.imageBytes[step, default: []].append(bytes)
                line += String(format: ", %.1f MB read from the image", bytes / 1e6)
            }
            print(line)
        }
    }

    /// The bench's environment without what would steer the kernel build
    /// elsewhere: ARCH, CROSS_COMPILE, KBUILD_*/KCONFIG_* (KBUILD_OUTPUT
    /// would override O=), and the variables a parent `make bench` exports
    /// (MAKEFLAGS carries its jobserver, which the child must not join).
    static func buildEnvironment() -> [String] {
        let dropped: Set<String> = ["ARCH", "SUBARCH", "CROSS_COMPILE", "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS", "O"]
        return ProcessInfo.processInfo.environment
            .filter { name, _ in !dropped.contains(name) && !name.hasPrefix("KBUILD_") && !name.hasPrefix("KCONFIG_") }
            .map { "\($0.key)=\($0.value)" }
            .sorted()
    }
}
