import Glibc
import ImageEngine
import Mounting
import SystemPackage
import SystemSupport

/// Mounting and unmounting kernel images by version.
public enum KernelMounts {
    /// Mounts linux-KV.sqfs at linux-KV. Refuses to mount over a directory
    /// that has content (an unpacked tree from before ksqsh: `ksqsh adopt` it).
    /// Holds the version's lock: a second process waits, then finds it mounted.
    @discardableResult
    public static func mount(_ layout: KernelLayout) throws -> LoopMount.Outcome {
        try KernelLock.holding(layout) { try mountLocked(layout) }
    }

    private static func mountLocked(_ layout: KernelLayout) throws -> LoopMount.Outcome {
        guard let info = try? layout.image.stat(), info.type == .regular else {
            throw KsqshError(.mountFailed, path: layout.image, "no image for \(layout.version); squash the sources first (ksqsh squash or ksqsh adopt)")
        }
        if try MountTable.current().mount(at: layout.mountPoint) == nil, isDirectory(layout.mountPoint), hasEntries(layout.mountPoint) {
            throw KsqshError(
                .mountPointOccupied, path: layout.mountPoint,
                "holds unpacked sources; mounting would hide them. Turn them into the image with: ksqsh adopt --kernel \(layout.version)")
        }
        return try LoopMount.mount(image: layout.image, at: layout.mountPoint, checkingFirst: requireIntactMetadata)
    }

    /// The kernel mounts an image whose super block alone is sound, then
    /// fails (EIO) on each damaged directory or inode as it is reached. So
    /// every table, directory and inode is checked first, which takes a
    /// fraction of a second: a damaged image is refused here, in one line,
    /// with nothing mounted. File contents are not read (that is a full
    /// `ksqsh verify`, far too slow for every boot): damage confined to data
    /// blocks still mounts, and reading that file fails with EIO.
    private static func requireIntactMetadata(_ image: FilePath) throws {
        do {
            try ImageCheck.metadata(of: image)
        } catch let error as KsqshError where [.imageUnreadable, .imageCorrupt].contains(error.kind) {
            throw KsqshError(.mountFailed, path: image, "not mounted, the image is damaged: \(error.message); check it with ksqsh verify", errno: error.errno)
        }
    }

    /// Unmounts linux-KV and removes the mount point if it is empty. Only
    /// the version's own image is unmounted: anything else mounted there
    /// (a tmpfs, another image) is refused, never detached with its files.
    @discardableResult
    public static func unmount(_ layout: KernelLayout, lazy: Bool = false) throws -> Bool {
        try KernelLock.holding(layout) {
            try requireOwnMount(layout)
            let unmounted = try LoopMount.unmount(layout.mountPoint, lazy: lazy)
            if try MountTable.current().mount(at: layout.mountPoint) == nil {
                try? layout.mountPoint.removeDirectory()  // only succeeds when empty: never removes sources
            }
            return unmounted
        }
    }

    public struct Attempt: Sendable {
        public let version: KernelVersion
        public let result: Result<Bool, KsqshError>
    }

    /// `mount --all`: every image under EROOT/usr/src. One failure does not
    /// stop the others (this runs at boot).
    public static func mountAll(eroot: FilePath) -> [Attempt] {
        KernelInventory(eroot: eroot).images.sorted().map { version in
            Attempt(version: version, result: Result { try mount(KernelLayout(eroot: eroot, version: version)) == .mounted }.mapKsqshError())
        }
    }

    /// `umount --all`: every kernel mount under EROOT/usr/src.
    public static func unmountAll(eroot: FilePath, lazy: Bool) -> [Attempt] {
        let inventory = KernelInventory(eroot: eroot)
        let table = (try? MountTable.current()) ?? MountTable(entries: [])
        return inventory.sourceDirectories.sorted().compactMap { version in
            let layout = KernelLayout(eroot: eroot, version: version)
            guard let entry = table.mount(at: layout.mountPoint), entry.fileSystem == "squashfs" else { return nil }
            return Attempt(version: version, result: Result { try unmount(layout, lazy: lazy) }.mapKsqshError())
        }
    }

    /// A directory with anything in it (an unpacked tree, not a mount point).
    static func requireOwnMount(_ layout: KernelLayout) throws {
        guard let entry = try MountTable.current().mount(at: layout.mountPoint) else { return }
        guard LoopMount.isBacked(entry, byCurrentOrFormer: layout.image) else {
            throw KsqshError(
                .mountPointOccupied, path: layout.mountPoint,
                "holds \(entry.loopBackingFile ?? entry.source) (\(entry.fileSystem)), not \(layout.image.lastComponent!); ksqsh leaves it alone: unmount it yourself if it should go")
        }
    }
}

extension Result where Failure == any Error {
    func mapKsqshError() -> Result<Success, KsqshError> {
        mapError { error in
            (error as? KsqshError) ?? KsqshError(.internalError, "\(error)")
        }
    }
}
