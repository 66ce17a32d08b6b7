import Glibc
import SystemPackage
import SystemSupport

/// What the running system allows: root, the kernel's filesystems, loop
/// devices, and whether mounts made here are visible to everyone.
public enum MountEnvironment {
    public static var isRoot: Bool { geteuid() == 0 }

    /// Refuses to `action` unless root. Commands that change /usr/src ask
    /// first: refusing before any change means no half-done work (a config
    /// saved, then EACCES on the build dir).
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
        guard let own = FilePath("/proc/self/ns/mnt").symbolicLinkTarget, let initial = FilePath("/proc/1/ns/mnt").symbolicLinkTarget else { return false }
        return own != initial
    }

    /// Who is about to mount, for `vanishingMountWarning(for:)`.
    public enum Mounter: Sendable {
        /// `ksqsh mount`, from a shell or a script.
        case command
        /// A portage phase hook, with portage's FEATURES.
        case portagePhase(features: Set<String>)
    }

    /// The warning (without a prefix) that a mount made now vanishes when
    /// this process exits, or nil when everyone keeps seeing it. A phase
    /// under FEATURES=mount-sandbox is warned even where the namespace
    /// cannot be compared.
    public static func vanishingMountWarning(for mounter: Mounter) -> String? {
        switch mounter {
        case .command:
            guard isInPrivateMountNamespace else { return nil }
            return "this process has a private mount namespace (portage FEATURES=mount-sandbox?); the mount will vanish when it exits. Run 'ksqsh mount --all' from a normal shell."
        case .portagePhase(let features):
            guard features.contains("mount-sandbox") || isInPrivateMountNamespace else { return nil }
            return "FEATURES=mount-sandbox: this mount vanishes when the phase ends. The boot script or 'ksqsh mount --all' mounts it for good."
        }
    }
}
