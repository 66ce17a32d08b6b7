import SystemPackage
import SystemSupport

/// `ksqsh installkernel RELEASE`, what the installkernel plugin runs once a
/// kernel is installed: if it was built in a ksqsh build dir, its `.config`
/// is saved to /etc/kernels (eclean-kernel later deletes the build dir with
/// it), and on request the build dir is slimmed.
public struct InstalledKernel {
    public let eroot: FilePath
    /// The kernel's release (`uname -r`), as installkernel passes it.
    public let release: KernelVersion
    /// `KSQSH_SLIM=yes`: slim the build dir afterwards.
    public var slim = false

    public init(eroot: FilePath, release: KernelVersion) {
        self.eroot = eroot
        self.release = release
    }

    public struct Report: Sendable {
        /// The ksqsh kernel version whose build dir made the kernel; nil:
        /// not built by ksqsh, and nothing was done.
        public var layout: KernelLayout?
        public var savedConfig: SavedConfigs.Outcome?
        public var slim: Slim.Report?
        /// Why slim did not run, when it was asked for.
        public var slimRefused: KsqshError?
    }

    public func run() throws -> Report {
        guard let layout = buildLayout() else { return Report() }
        var report = Report(layout: layout)
        let config = layout.buildDirectory.appending(".config")
        report.savedConfig = try KernelLock.holding(layout) { try SavedConfigs.save(config, for: layout) }
        guard slim else { return report }
        do {
            report.slim = try Slim(layout: layout).run()
        } catch let error as KsqshError {
            // The config is saved; a build dir that cannot be slimmed yet
            // (its modules not installed) is the user's to finish.
            report.slimRefused = error
        }
        return report
    }

    /// The build dir that `lib/modules/RELEASE/build` names, as
    /// `make modules_install` links it; for a kernel without modules,
    /// the build dir whose `include/config/kernel.release` is RELEASE.
    func buildLayout() -> KernelLayout? {
        if let link = eroot.appending("lib/modules/\(release)/build").symbolicLinkTarget {
            guard let name = InstalledModuleTrees.sourcesEntry(namedBy: link), name.hasPrefix("build-"),
                let version = KernelVersion(String(name.dropFirst("build-".count)))
            else { return nil }
            let layout = KernelLayout(eroot: eroot, version: version)
            return isRegularFile(layout.buildDirectory.appending(".config")) ? layout : nil
        }
        return KernelInventory(eroot: eroot).buildDirectories.sorted().lazy.map { KernelLayout(eroot: eroot, version: $0) }.first { layout in
            BuildDirectoryState.release(of: layout.buildDirectory) == release.text && isRegularFile(layout.buildDirectory.appending(".config"))
        }
    }
}
