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
        case .otherVersion(let path, let version): "the config of \(version), \(path)"
        case .runningKernel(let path): "the running kernel's \(path)"
        case .defconfig: "make defconfig (no config found)"
        }
    }
}

/// The first config found wins, in this order: --config FILE; the build
/// dir's .config; the saved config of this version; the newest config of
/// another version (saved, or in its build dir; newest by version as
/// `sort -V`); the running kernel's /proc/config.gz; else defconfig.
public struct ConfigChain: Sendable {
    public let layout: KernelLayout
    public var given: FilePath?
    public var runningKernelConfig: FilePath = "/proc/config.gz"

    public init(layout: KernelLayout, given: FilePath? = nil) {
        self.layout = layout
        self.given = given
    }

    public func choose() -> ConfigSource {
        if let given { return .given(given) }
        let own = layout.buildDirectory.appending(".config")
        if isRegularFile(own) { return .existing(own) }
        if isRegularFile(layout.savedConfig) { return .saved(layout.savedConfig) }
        if let other = newestOtherVersion() { return .otherVersion(other.1, other.0) }
        if isRegularFile(runningKernelConfig) { return .runningKernel(runningKernelConfig) }
        return .defconfig
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
