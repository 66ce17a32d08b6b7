import Glibc
import Mounting
import SystemPackage
import SystemSupport

/// `ksqsh clean`: retires one kernel version's build dir and mount without
/// losing its configuration.
public struct Clean {
    public var layout: KernelLayout
    /// Also delete the image (normally portage's job).
    public var removeImage = false
    /// Only say what would be done.
    public var pretend = false

    public init(layout: KernelLayout) { self.layout = layout }

    public enum Action: Sendable, Equatable, CustomStringConvertible {
        case saveConfig(FilePath, to: FilePath)
        case removeBuildDirectory(FilePath)
        case unmount(FilePath)
        case removeMountPoint(FilePath)
        case removeImage(FilePath)
        case repointSymlink(FilePath, to: String)
        case removeSymlink(FilePath)

        public var description: String {
            switch self {
            case .saveConfig(let from, let to): "save \(from) as \(to)"
            case .removeBuildDirectory(let path): "remove \(path)"
            case .unmount(let path): "unmount \(path)"
            case .removeMountPoint(let path): "remove the empty mount point \(path)"
            case .removeImage(let path): "delete \(path)"
            case .repointSymlink(let link, let target): "point \(link) at \(target)"
            case .removeSymlink(let link): "remove the dangling \(link)"
            }
        }
    }

    /// Does (or with `pretend`, lists) each step, in an order where a
    /// failure never loses anything: the config is saved before the build
    /// dir goes, the image is deleted only once unmounted.
    public func run() throws -> [Action] {
        // Listing the steps changes nothing: no lock, and no root needed.
        if pretend { return try runLocked() }
        return try KernelLock.holding(layout) { try runLocked() }
    }

    private func runLocked() throws -> [Action] {
        try checkPaths()
        try KernelMounts.requireOwnMount(layout)
        var actions: [Action] = []
        let config = layout.buildDirectory.appending(".config")
        if isRegularFile(config) {
            actions.append(.saveConfig(config, to: layout.savedConfig))
            if !pretend { _ = try SavedConfigs.save(config, for: layout) }
        }
        if isDirectory(layout.buildDirectory) {
            actions.append(.removeBuildDirectory(layout.buildDirectory))
            if !pretend { try DirectoryRemoval.remove(layout.buildDirectory) }
        }
        let mounted = try MountTable.current().mount(at: layout.mountPoint) != nil
        if mounted {
            actions.append(.unmount(layout.mountPoint))
            if !pretend { try LoopMount.unmount(layout.mountPoint) }
        }
        // A mount point is empty once unmounted; a directory with content is
        // an unpacked tree, never removed here.
        let emptyNow = isDirectory(layout.mountPoint) && (pretend && mounted || !hasEntries(layout.mountPoint))
        if emptyNow {
            actions.append(.removeMountPoint(layout.mountPoint))
            if !pretend { try? layout.mountPoint.removeDirectory() }
        }
        if removeImage && isRegularFile(layout.image) {
            actions.append(.removeImage(layout.image))
            if !pretend {
                do {
                    try layout.image.unlink()
                } catch {
                    throw KsqshError(.deleteFailed, path: layout.image, "cannot delete the image", errno: error)
                }
            }
        }
        if let action = symlinkRepair(assumingDone: actions) {
            actions.append(action)
            if !pretend {
                switch action {
                case .repointSymlink(let link, let target): try KernelSymlink.point(link, at: target)
                case .removeSymlink(let link): try? link.unlink()
                default: break
                }
            }
        }
        return actions
    }

    /// Deletion is confined to EROOT/usr/src and to the expected names: the
    /// build dir must be a real directory directly inside it.
    private func checkPaths() throws {
        if let info = try? layout.buildDirectory.stat(followTargetSymlink: false) {
            try BuildDirectoryState.requireReal(layout, info, refusing: "clean")
        }
    }

    /// /usr/src/linux left dangling by this clean goes to the newest other
    /// version's build dir (or sources), or away if there is none.
    private func symlinkRepair(assumingDone actions: [Action]) -> Action? {
        guard let target = KernelSymlink.target(of: layout.symlink) else { return nil }
        let gone = Set(
            actions.compactMap { action -> String? in
                switch action {
                case .removeBuildDirectory(let path), .removeMountPoint(let path): path.lastComponent?.string
                default: nil
                }
            })
        let pointsAtGone = gone.contains(target) || gone.contains(FilePath(target).lastComponent?.string ?? "")
        let dangling = !pretend && !layout.sourcesDirectory.appending(target).isAccessible(.exists)
        guard pointsAtGone || dangling else { return nil }
        let inventory = KernelInventory(eroot: layout.eroot)
        for version in inventory.allVersions.reversed() where version != layout.version {
            let other = KernelLayout(eroot: layout.eroot, version: version)
            if inventory.buildDirectories.contains(version) { return .repointSymlink(layout.symlink, to: other.buildDirectory.lastComponent!.string) }
            if inventory.sourceDirectories.contains(version) { return .repointSymlink(layout.symlink, to: other.mountPoint.lastComponent!.string) }
        }
        return .removeSymlink(layout.symlink)
    }
}
