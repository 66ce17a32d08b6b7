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
    /// Where the running kernel's config is read from (tests point elsewhere).
    public var runningKernelConfig: FilePath = "/proc/config.gz"

    public init(layout: KernelLayout) { self.layout = layout }

    public struct Report: Sendable {
        public var configSource: ConfigSource
        public var mounted: LoopMount.Outcome?
        /// Whether modules_prepare ran (false: not asked, or the config has no modules).
        public var modulesPrepared = false
    }

    /// Holds the version's lock throughout (see `KernelLock`), once the
    /// inputs passed the checks that need no lock: a refused prepare
    /// changes nothing at all, not even the lock directory.
    public func run() throws -> Report {
        try checkBeforeChanging()
        return try KernelLock.holding(layout) { try runLocked() }
    }

    private func runLocked() throws -> Report {
        let mounted = try mountSources()
        try createBuildDirectory()
        var chain = ConfigChain(layout: layout, given: config)
        chain.runningKernelConfig = runningKernelConfig
        let source = chain.choose()
        let make = KernelMake(sources: layout.mountPoint, build: layout.buildDirectory)
        let target = layout.buildDirectory.appending(".config")

        switch source {
        case .existing:
            try make.run("olddefconfig")
        case .given(let path):
            // --config replaces the build dir's config: keep the old one first.
            if isRegularFile(target) { _ = try SavedConfigs.save(target, for: layout) }
            try writeAtomically(try readFileBytes(path), to: target)
            try make.run("olddefconfig")
        case .saved(let path), .otherVersion(let path, _):
            try writeAtomically(try readFileBytes(path), to: target)
            try make.run("olddefconfig")
        case .runningKernel(let path):
            try decompress(path, to: target)
            try make.run("olddefconfig")
        case .defconfig:
            try make.run("defconfig")
        }
        var report = Report(configSource: source, mounted: mounted)
        // Without CONFIG_MODULES the kernel's modules_prepare is an empty
        // target: it would "succeed" having prepared nothing.
        if modules, try Self.enablesModules(target) {
            try make.run("modules_prepare")
            report.modulesPrepared = true
        }
        if symlink { try KernelSymlink.point(layout.symlink, at: layout.buildDirectory.lastComponent!.string) }
        return report
    }

    private static func enablesModules(_ config: FilePath) throws -> Bool {
        try readSmallFile(config, limit: 16 << 20).split(separator: "\n").contains("CONFIG_MODULES=y")
    }

    /// What would make it fail half-way is refused before anything changes.
    private func checkBeforeChanging() throws {
        try Prepare.requireBuildablePaths(layout)
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

    private func decompress(_ compressed: FilePath, to target: FilePath) throws {
        let temporary = target.removingLastComponent().appending(".config.ksqsh-gz")
        let descriptor = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        defer { try? descriptor.close() }
        let status = try ChildProcess(executable: "gzip", arguments: ["-dc", compressed.string], standardOutput: descriptor).run()
        guard status == 0, (try? temporary.rename(to: target)) != nil else {
            try? temporary.unlink()
            throw KsqshError(.buildFailed, path: compressed, "cannot decompress the running kernel's config")
        }
    }
}
