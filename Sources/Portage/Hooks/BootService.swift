import SystemPackage
import SystemSupport

/// The boot-time mount as the ksqsh package installs it (`make install`):
/// an OpenRC service for /etc/init.d or a systemd unit for the package's
/// unit directory.
///
/// Rendered from the same templates/ as what 'ksqsh hooks install' writes
/// for systems without the package (local.d scripts, a unit in /etc), so
/// the two cannot drift apart.
public enum BootService: String, CaseIterable, Sendable {
    case openrc, systemd

    public var template: HookTemplate {
        switch self {
        case .openrc: return .openrcService
        case .systemd: return .systemdUnit
        }
    }

    /// The package manager owns these files, not 'ksqsh hooks': so not the
    /// hooks' marker, which 'hooks install' would take as its own to overwrite.
    public static let marker = "Installed with the ksqsh package; edits are lost when it is reinstalled."

    /// The file's text, calling `helper` (the installed ksqsh, an absolute path).
    public func render(helper: FilePath) throws -> String {
        guard helper.isAbsolute else {
            throw KsqshError(.pathRefused, path: helper, "is not an absolute path: a boot service runs before any PATH is set up")
        }
        return try template.render(helper: helper, marker: BootService.marker)
    }
}
