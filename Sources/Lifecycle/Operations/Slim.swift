import Mounting
import SystemPackage
import SystemSupport

/// `ksqsh slim`: after `make && make modules_install install`, reduces the
/// build dir to what out-of-tree modules and reconfiguring need
/// (`SlimSelection`). An x86_64 defconfig build dir of 858 MB in 11,626
/// inodes keeps 11 MB in 94.
public struct Slim {
    public var layout: KernelLayout
    /// Only measure and say what would go.
    public var pretend = false
    /// Slim a build dir without a finished build, or whose modules are not
    /// installed.
    public var force = false

    public init(layout: KernelLayout) { self.layout = layout }

    public struct Report: Sendable, Equatable {
        public var before: DiskUsage
        /// What went (or, pretending, would go).
        public var removed: DiskUsage
        public var after: DiskUsage { DiskUsage(bytes: before.bytes - removed.bytes, inodes: before.inodes - removed.inodes) }
    }

    /// Refused before the lock is taken: a refusal changes nothing, not
    /// even the lock directory. Measuring only (`pretend`) takes no lock.
    public func run() throws -> Report {
        try checkBuildDirectory()
        if !force { try requireFinishedBuild() }
        if pretend { return try walk() }
        try requireIdle()
        return try KernelLock.holding(layout) { try walk() }
    }

    private func walk() throws -> Report {
        var walk = SlimWalk(pretend: pretend)
        try walk.run(layout.buildDirectory)
        return Report(before: walk.before, removed: walk.removed)
    }

    /// Only a real, configured build dir directly in EROOT/usr/src.
    private func checkBuildDirectory() throws {
        let path = layout.buildDirectory
        guard let info = try? path.stat(followTargetSymlink: false) else {
            throw KsqshError(.sourceMissing, path: path, "no build dir for \(layout.version) (ksqsh prepare --kernel \(layout.version) makes one)")
        }
        try BuildDirectoryState.requireReal(layout, info, refusing: "slim")
        guard isRegularFile(path.appending(".config")) else {
            throw KsqshError(.buildIncomplete, path: path, "has no .config: nothing was built here to slim")
        }
    }

    /// No make (or anything else) working in the build dir: slim would pull
    /// files from under it. Those waiting for ksqsh are not working there:
    /// `make install` runs installkernel, whose plugin runs ksqsh, from it.
    private func requireIdle() throws {
        let busy = BusyProcesses.holding(layout.buildDirectory, ignoringAncestors: true)
        guard busy.isEmpty else {
            let names = busy.prefix(5).map(\.description).joined(separator: ", ")
            throw KsqshError(.mountBusy, path: layout.buildDirectory, "is in use by \(names); slim it once they are done")
        }
    }

    /// A finished build (the link made `System.map`; modpost made
    /// `Module.symvers`), and its modules installed: slim deletes the
    /// `.ko` files `make modules_install` copies.
    private func requireFinishedBuild() throws {
        let path = layout.buildDirectory
        guard BuildDirectoryState.isBuilt(path) else {
            throw KsqshError(.buildIncomplete, path: path, "has no finished build (no vmlinux, System.map or Module.symvers): run make -C \(path) first, or slim --force")
        }
        guard let release = BuildDirectoryState.moduleRelease(path) else { return }
        let installed = layout.eroot.appending("lib/modules/\(release)")
        guard isDirectory(installed, followingSymlinks: true) else {
            throw KsqshError(
                .buildIncomplete, path: installed,
                "does not exist: the modules built in \(path) are not installed, and slim deletes them; run make -C \(path) modules_install first, or slim --force")
        }
    }
}
