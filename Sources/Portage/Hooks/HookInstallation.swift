import Glibc
import SystemPackage
import SystemSupport

/// The init systems whose boot-time mount ksqsh can install.
public enum InitSystem: String, CaseIterable, Sendable {
    case openrc, systemd, both, auto

    /// What `auto` means under a root: the init found there, both if unsure.
    func resolved(root: FilePath) -> InitSystem {
        guard self == .auto else { return self }
        let systemd = ["usr/lib/systemd/systemd", "lib/systemd/systemd"].contains { root.appending($0).isAccessible(.executable) }
        let openrc = ["sbin/openrc", "etc/init.d/local"].contains { root.appending($0).isAccessible(.exists) }
        switch (openrc, systemd) {
        case (true, false): return .openrc
        case (false, true): return .systemd
        default: return .both
        }
    }
}

/// One file `ksqsh hooks install` writes.
public struct GeneratedFile: Sendable, Equatable {
    /// Relative to the root.
    public let path: FilePath
    public let text: String
    public let mode: mode_t
}

/// `ksqsh hooks install/remove`: the portage env hooks for kernel-2 sources
/// packages, and the boot-time mount for OpenRC (local.d) and systemd.
/// Files ksqsh did not write (no marker line) are never overwritten or removed.
public struct HookInstallation: Sendable {
    public var root: FilePath = "/"
    public var packages = ["gentoo-sources"]
    public var initSystem = InitSystem.auto
    /// The ksqsh the scripts call, an absolute path.
    public var helper: FilePath

    public init(helper: FilePath) { self.helper = helper }

    public static let envDirectory: FilePath = "etc/portage/env/sys-kernel"
    public static let localDirectory: FilePath = "etc/local.d"
    public static let unitDirectory: FilePath = "etc/systemd/system"
    public static let unitName = "ksqsh-mount.service"
    /// systemctl enable's link, made by hand so it works under any root.
    public static let unitWantsLink: FilePath = "etc/systemd/system/local-fs.target.wants/ksqsh-mount.service"
    /// installkernel's plugin directory for the admin (installkernel-gentoo
    /// and Debian's installkernel both run it). Ordered after the module
    /// rebuild (30-…): slim comes once modules were built against the full dir.
    public static let installkernelPlugin: FilePath = "etc/kernel/postinst.d/90-ksqsh"

    /// Package names portage accepts (PMS: letters, digits, +, _, -).
    public static func isValidPackageName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.isASCIIDigit || first.isASCIILetter || first == "_" else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCIIDigit || $0.isASCIILetter || "+_-".unicodeScalars.contains($0) }
    }

    public func files() throws -> [GeneratedFile] {
        var files: [GeneratedFile] = []
        for package in packages {
            guard HookInstallation.isValidPackageName(package) else {
                throw KsqshError(.pathRefused, "'\(package)' is not a package name")
            }
            files.append(GeneratedFile(
                path: HookInstallation.envDirectory.appending(package),
                text: try HookTemplate.portageEnvHook.render(package: package, helper: helper), mode: 0o644))
        }
        files.append(GeneratedFile(path: HookInstallation.installkernelPlugin, text: try HookTemplate.installkernelPlugin.render(helper: helper), mode: 0o755))
        let initSystem = initSystem.resolved(root: root)
        if initSystem == .openrc || initSystem == .both {
            files.append(GeneratedFile(path: HookInstallation.localDirectory.appending("ksqsh.start"), text: try HookTemplate.localStart.render(helper: helper), mode: 0o755))
            files.append(GeneratedFile(path: HookInstallation.localDirectory.appending("ksqsh.stop"), text: try HookTemplate.localStop.render(helper: helper), mode: 0o755))
        }
        if initSystem == .systemd || initSystem == .both {
            files.append(GeneratedFile(path: HookInstallation.unitDirectory.appending(HookInstallation.unitName), text: try HookTemplate.systemdUnit.render(helper: helper), mode: 0o644))
        }
        return files
    }

    /// Writes every file, or none: all conflicts are found before anything is written.
    public func install() throws -> [FilePath] {
        let files = try files()
        let conflicts = files.map { root.pushing($0.path) }.filter { path in
            isRegularFile(path) && !((try? readSmallFile(path)).map(HookTemplate.isGenerated) ?? false)
                || (path.isAccessible(.exists) && !isRegularFile(path))
        }
        if let conflict = conflicts.first {
            throw KsqshError(
                .pathRefused, path: conflict,
                "exists and was not written by ksqsh; merge by hand ('ksqsh hooks print' shows the hook) or move it away"
                    + (conflicts.count > 1 ? " (and \(conflicts.count - 1) more)" : ""))
        }
        var written: [FilePath] = []
        for file in files {
            let path = root.pushing(file.path)
            try makeDirectories(path.removingLastComponent())
            try writeAtomically(Array(file.text.utf8), to: path, mode: file.mode)
            written.append(path)
        }
        if files.contains(where: { $0.path.lastComponent?.string == HookInstallation.unitName }) {
            let link = root.pushing(HookInstallation.unitWantsLink)
            try makeDirectories(link.removingLastComponent())
            if link.symbolicLinkTarget == nil {
                do {
                    try link.makeSymbolicLink(pointingTo: "../\(HookInstallation.unitName)")
                } catch {
                    throw KsqshError(.writeFailed, path: link, "cannot enable the unit", errno: error)
                }
                // Like the files above, enabled for good only once its directory is synced.
                syncDirectory(of: link)
            }
            written.append(link)
        }
        return written
    }

    /// Removes every file ksqsh wrote under the root (any package's hook).
    public func remove() throws -> [FilePath] {
        var candidates = directoryNames(root.pushing(HookInstallation.envDirectory)).map { HookInstallation.envDirectory.appending($0) }
        candidates += ["ksqsh.start", "ksqsh.stop"].map { HookInstallation.localDirectory.appending($0) }
        candidates.append(HookInstallation.unitDirectory.appending(HookInstallation.unitName))
        candidates.append(HookInstallation.installkernelPlugin)
        var removed: [FilePath] = []
        for relative in candidates {
            let path = root.pushing(relative)
            guard isRegularFile(path), let text = try? readSmallFile(path), HookTemplate.isGenerated(text) else { continue }
            do {
                try path.unlink()
            } catch {
                throw KsqshError(.deleteFailed, path: path, "cannot remove", errno: error)
            }
            removed.append(path)
        }
        let link = root.pushing(HookInstallation.unitWantsLink)
        if link.symbolicLinkTarget == "../\(HookInstallation.unitName)" {
            try? link.unlink()
            removed.append(link)
        }
        return removed
    }
}
