import Glibc
import Mounting
import SystemPackage
import SystemSupport

/// `ksqsh prepare`: the out-of-tree build dir for a mounted image,
/// configured by the kernel's own make.
public struct Prepare {
    public var layout: KernelLayout
    public var config: FilePath?
    public var modules = false
    public var symlink = false
    /// Portage's ROOT: /proc/config.gz is only taken when it is /.
    public var root: FilePath = "/"
    /// The package that installed the version (its savedconfig is in the
    /// chain); nil: the owner of the image (or of the plain sources) in
    /// EROOT/var/db/pkg, if any.
    public var package: KernelPackage?
    /// Where the running kernel's config is read from (tests point elsewhere).
    public var runningKernelConfig: FilePath = "/proc/config.gz"

    public init(layout: KernelLayout) { self.layout = layout }

    public struct Report: Sendable {
        /// The base config and the notes on how it was chosen and applied.
        public var config: ConfigChoice
        /// The config.d fragments merged over the base, in merge order.
        public var mergedFragments: [FilePath] = []
        public var mounted: LoopMount.Outcome?
        /// Whether modules_prepare ran (false: not asked, or the config has no modules).
        public var modulesPrepared = false

        /// The base, every fragment merged, then the notes: one line each.
        public func configLines(_ layout: KernelLayout) -> [String] {
            ["\(layout.buildDirectory): configured from \(config.base)"]
                + mergedFragments.map { "\(layout.buildDirectory): merged the config fragment \($0)" }
                + config.notes.map { "note: \($0)" }
        }
    }

    /// Holds the version's lock throughout (see `KernelLock`), once the
    /// inputs passed the checks that need no lock: a refused prepare
    /// changes nothing at all, not even the lock directory.
    public func run() throws -> Report {
        let fragments = try checkBeforeChanging()
        return try KernelLock.holding(layout) { try runLocked(fragments: fragments) }
    }

    private func runLocked(fragments: [FilePath]) throws -> Report {
        let mounted = try mountSources()
        try createBuildDirectory()
        var chain = ConfigChain(layout: layout, given: config)
        chain.root = root
        chain.package = package ?? ownerInPortageDatabase()
        chain.runningKernelConfig = runningKernelConfig
        let applied = try ConfigApplication(layout: layout, choice: chain.choose(), fragments: fragments).run()
        var report = Report(config: applied.choice, mergedFragments: applied.merged, mounted: mounted)
        // Without CONFIG_MODULES the kernel's modules_prepare is an empty
        // target: it would "succeed" having prepared nothing.
        if modules, try BuildDirectoryState.enablesModules(layout.buildDirectory.appending(".config")) {
            try KernelMake(sources: layout.mountPoint, build: layout.buildDirectory).run("modules_prepare")
            report.modulesPrepared = true
        }
        if symlink { try KernelSymlink.point(layout.symlink, at: layout.buildDirectory.lastComponent!.string) }
        return report
    }

    /// The package's CONTENTS (megabytes for plain sources) are read only
    /// when there is a savedconfig to look up.
    private func ownerInPortageDatabase() -> KernelPackage? {
        guard isDirectory(layout.portageSavedConfigsDirectory, followingSymlinks: true) else { return nil }
        return InstalledPackages(eroot: layout.eroot).package(of: layout)
    }

    /// What would make it fail half-way is refused before anything changes.
    /// Returns the config.d fragments, checked.
    private func checkBeforeChanging() throws -> [FilePath] {
        try Prepare.requireBuildablePaths(layout)
        let fragments = try ConfigFragments.list(in: layout.configFragmentsDirectory)
        if let config {
            // Checked before mounting: a missing file must not leave a mount
            // and an empty build dir behind, a FIFO must not block the read.
            let info: Stat
            do {
                info = try config.stat()
            } catch {
                throw KsqshError(.sourceMissing, path: config, "cannot use this config file", errno: error)
            }
            guard info.type == .regular, config.isAccessible(.readable) else {
                throw KsqshError(.sourceUnreadable, path: config, "config is not a readable regular file")
            }
        }
        if let info = try? layout.buildDirectory.stat(followTargetSymlink: false), info.type != .directory {
            throw KsqshError(.pathRefused, path: layout.buildDirectory, "build dir is a symlink or file, not a directory; move it away")
        }
        if symlink, let info = try? layout.symlink.stat(followTargetSymlink: false), info.type != .symbolicLink {
            throw KsqshError(.pathRefused, path: layout.symlink, "is a real \(info.type == .directory ? "directory" : "file"), not a symlink; move it away to let ksqsh manage it")
        }
        return fragments
    }

    /// Sources come from the mounted image; without an image, an unpacked
    /// tree at the mount point serves as it is.
    private func mountSources() throws -> LoopMount.Outcome? {
        if isRegularFile(layout.image) { return try KernelMounts.mount(layout) }
        guard isRegularFile(layout.mountPoint.appending("Makefile")) else {
            throw KsqshError(.mountFailed, path: layout.image, "no image and no kernel sources for \(layout.version)")
        }
        return nil
    }

    private func createBuildDirectory() throws {
        let path = layout.buildDirectory
        if let info = try? path.stat(followTargetSymlink: false) {
            guard info.type == .directory else {
                throw KsqshError(.pathRefused, path: path, "build dir is a symlink or file, not a directory; move it away")
            }
            return
        }
        do {
            try path.makeDirectory()
        } catch {
            throw KsqshError(.writeFailed, path: path, "cannot create the build dir", errno: error)
        }
    }
}
