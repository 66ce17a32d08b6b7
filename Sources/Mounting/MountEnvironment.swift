import Glibc
import SystemPackage
import SystemSupport

/// What the running system allows: root, the kernel's filesystems, loop
/// devices, and whether mounts made here are visible to everyone.
public enum MountEnvironment {
    public static var isRoot: Bool { geteuid() == 0 }

    package static func requireRoot(to action: String) throws {
        guard isRoot else { throw KsqshError(.notRoot, "must be root to \(action)") }
    }

    /// Whether /proc/filesystems lists `name` (a module may still autoload).
    public static func kernelSupports(_ name: String) -> Bool {
        guard let text = try? readSmallFile("/proc/filesystems") else { return false }
        return text.split(separator: "\n").contains { $0.split(separator: "\t").last.map(String.init) == name }
    }

    public static var hasLoopSupport: Bool { FilePath("/dev/loop-control").isAccessible(.exists) }

    /// True when this process has its own mount namespace, unlike init's:
    /// mounts made here vanish for everyone else when it exits. Portage's
    /// FEATURES=mount-sandbox runs every phase like that.
    public static var isInPrivateMountNamespace: Bool {
        guard let own = linkTarget("/proc/self/ns/mnt"), let initial = linkTarget("/proc/1/ns/mnt") else { return false }
        return own != initial
    }

    /// This program's own path (/proc/self/exe).
    public static var executablePath: String? { linkTarget("/proc/self/exe") }

    public static func linkTarget(_ path: FilePath) -> String? {
        (try? path.readSymbolicLink()).map { String(decoding: $0, as: UTF8.self) }
    }
}
