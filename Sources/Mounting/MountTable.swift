import CMount
import Glibc
import SystemPackage
import SystemSupport

/// One mounted filesystem, as /proc/self/mountinfo lists it.
public struct MountEntry: Sendable, Equatable {
    public let target: FilePath
    public let source: String
    public let fileSystem: String
    public let options: String
    public let device: (major: UInt32, minor: UInt32)

    /// For a loop device: the file behind it, from sysfs (libmount has no
    /// public loop API). The kernel appends " (deleted)" when the file was
    /// unlinked while mounted; that is kept, so callers can see it.
    public var loopBackingFile: String? {
        guard device.major == 7 else { return nil }
        let path = "/sys/dev/block/\(device.major):\(device.minor)/loop/backing_file"
        guard let text = try? readSmallFile(FilePath(path)) else { return nil }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }

    public static func == (a: MountEntry, b: MountEntry) -> Bool {
        a.target == b.target && a.source == b.source && a.device == b.device
    }
}

/// The mount table of this process's mount namespace, read with libmount.
public struct MountTable: Sendable {
    public let entries: [MountEntry]

    package init(entries: [MountEntry]) { self.entries = entries }

    public static func current() throws -> MountTable {
        guard let table = mnt_new_table_from_file("/proc/self/mountinfo") else {
            throw KsqshError(.mountFailed, path: "/proc/self/mountinfo", "cannot read the mount table; is /proc mounted?")
        }
        defer { mnt_unref_table(table) }
        var entries: [MountEntry] = []
        var iterator = mnt_new_iter(Int32(MNT_ITER_FORWARD))
        defer { mnt_free_iter(iterator) }
        var fs: OpaquePointer?
        while mnt_table_next_fs(table, iterator, &fs) == 0, let fs {
            let devno = mnt_fs_get_devno(fs)
            entries.append(
                MountEntry(
                    target: FilePath(String(cString: mnt_fs_get_target(fs))),
                    source: mnt_fs_get_source(fs).map { String(cString: $0) } ?? "",
                    fileSystem: mnt_fs_get_fstype(fs).map { String(cString: $0) } ?? "",
                    options: mnt_fs_get_options(fs).map { String(cString: $0) } ?? "",
                    device: (ksqshDeviceMajor(devno), ksqshDeviceMinor(devno))))
        }
        _ = iterator
        iterator = nil
        return MountTable(entries: entries)
    }

    /// What is visible at exactly this path (the last, topmost mount), never
    /// a mount whose path merely starts the same (linux-6.12.1 vs linux-6.12.10).
    public func mount(at target: FilePath) -> MountEntry? {
        let wanted = canonicalPath(target)
        return entries.last { $0.target == wanted }
    }

    /// Every mount at or below `directory`.
    public func mounts(below directory: FilePath) -> [MountEntry] {
        let base = canonicalPath(directory)
        return entries.filter { $0.target == base || $0.target.starts(with: base) }
    }
}

/// The path with symlinks resolved where it exists (mountinfo lists real
/// paths); unchanged where it does not.
package func canonicalPath(_ path: FilePath) -> FilePath {
    guard let resolved = path.withPlatformString({ realpath($0, nil) }) else { return path.lexicallyNormalized() }
    defer { free(resolved) }
    return FilePath(String(cString: resolved))
}
