import Glibc
import SystemPackage
import SystemSupport

/// Where a build dir's configuration comes from.
public enum ConfigSource: Sendable, Equatable, CustomStringConvertible {
    /// `--config FILE`.
    case given(FilePath)
    /// The build dir's own .config: never overwritten.
    case existing(FilePath)
    /// The config saved when this version was last removed.
    case saved(FilePath)
    /// savedconfig.eclass's file for the package: PF, P or PN.
    case portageSavedConfig(FilePath)
    /// The newest config of another version, saved or in its build dir.
    case otherVersion(FilePath, KernelVersion)
    /// The running kernel's /proc/config.gz.
    case runningKernel(FilePath)
    /// Nothing found: the kernel's defaults for this architecture.
    case defconfig

    public var description: String {
        switch self {
        case .given(let path): "the given config \(path)"
        case .existing(let path): "the existing \(path)"
        case .saved(let path): "the saved config \(path)"
        case .portageSavedConfig(let path): "the savedconfig \(path)"
        case .otherVersion(let path, let version): "the config of \(version), \(path)"
        case .runningKernel(let path): "the running kernel's \(path)"
        case .defconfig: "make defconfig (no config found)"
        }
    }
}

/// Something the user should know about how the config was chosen or
/// applied: a source passed over, fragments left out.
public enum ConfigNote: Sendable, Equatable, CustomStringConvertible {
    /// ROOT is not /: the running kernel is the build host's, and the root
    /// may be another machine's (an image built for another target).
    case runningKernelSkipped(FilePath, root: FilePath)
    /// The build dir's own .config wins: config.d fragments are not merged
    /// into it behind the user's back.
    case fragmentsNotApplied([FilePath], buildDirectory: FilePath, sources: FilePath)

    public var description: String {
        switch self {
        case .runningKernelSkipped(let path, let root):
            return "not using the build host's \(path): ROOT is \(root), which may be another machine's"
        case .fragmentsNotApplied(let fragments, let build, let sources):
            let names = fragments.map(\.string).joined(separator: " ")
            return "\(fragments.count) config.d fragment\(fragments.count == 1 ? "" : "s") not merged into the existing .config; "
                + "to merge: cd \(build) && \(sources)/scripts/kconfig/merge_config.sh -m -r .config \(names) && make olddefconfig"
        }
    }
}

/// The chain's answer: the base config and what was passed over on the way.
public struct ConfigChoice: Sendable, Equatable {
    public var base: ConfigSource
    public var notes: [ConfigNote]

    public init(base: ConfigSource, notes: [ConfigNote] = []) {
        self.base = base
        self.notes = notes
    }
}

/// The first config found wins, in this order: --config FILE; the build
/// dir's .config; the saved config of this version; the package's
/// savedconfig (EROOT/etc/portage/savedconfig/sys-kernel/PF, then P, then
/// PN, as savedconfig.eclass looks); the newest config of another version
/// (saved, or in its build dir; newest by version as `sort -V`); the
/// running kernel's /proc/config.gz, only when ROOT is /; else defconfig.
public struct ConfigChain: Sendable {
    public let layout: KernelLayout
    public var given: FilePath?
    /// Portage's ROOT (EROOT without EPREFIX): whether the root is the
    /// running system.
    public var root: FilePath = "/"
    /// The package that installed the version, for its savedconfig.
    public var package: KernelPackage?
    public var runningKernelConfig: FilePath = "/proc/config.gz"

    public init(layout: KernelLayout, given: FilePath? = nil) {
        self.layout = layout
        self.given = given
    }

    public func choose() -> ConfigChoice {
        if let given { return ConfigChoice(base: .given(given)) }
        let own = layout.buildDirectory.appending(".config")
        // An empty .config is what a power cut leaves of one the kernel's
        // make wrote but did not sync: the saved copy is the config then.
        if let info = try? own.stat(), info.type == .regular, info.size > 0 { return ConfigChoice(base: .existing(own)) }
        if isRegularFile(layout.savedConfig) { return ConfigChoice(base: .saved(layout.savedConfig)) }
        if let savedconfig = portageSavedConfig() { return ConfigChoice(base: .portageSavedConfig(savedconfig)) }
        if let other = newestOtherVersion() { return ConfigChoice(base: .otherVersion(other.1, other.0)) }
        guard isRegularFile(runningKernelConfig) else { return ConfigChoice(base: .defconfig) }
        // A ROOT of "/" written otherwise ("//", "/.") is still the running system.
        guard root.lexicallyNormalized().removingRoot().isEmpty else {
            return ConfigChoice(base: .defconfig, notes: [.runningKernelSkipped(runningKernelConfig, root: root)])
        }
        return ConfigChoice(base: .runningKernel(runningKernelConfig))
    }

    /// PF first: a config saved for exactly this revision is the most specific.
    private func portageSavedConfig() -> FilePath? {
        guard let package else { return nil }
        var names: [String] = []
        for name in [package.fullName, package.nameAndVersion, package.name] where !names.contains(name) { names.append(name) }
        return names.map { layout.portageSavedConfigsDirectory.appending($0) }.first(where: isRegularFile)
    }

    /// Build dirs win over saved configs of the same version: they are the live ones.
    private func newestOtherVersion() -> (KernelVersion, FilePath)? {
        var candidates: [KernelVersion: FilePath] = [:]
        for name in directoryNames(layout.savedConfigsDirectory) where name.hasPrefix("kernel-config-") {
            let path = layout.savedConfigsDirectory.appending(name)
            if let version = KernelVersion(String(name.dropFirst("kernel-config-".count))), version != layout.version, isRegularFile(path) {
                candidates[version] = path
            }
        }
        for version in KernelInventory(eroot: layout.eroot).buildDirectories where version != layout.version {
            let path = KernelLayout(eroot: layout.eroot, version: version).buildDirectory.appending(".config")
            if isRegularFile(path) { candidates[version] = path }
        }
        return candidates.max { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
