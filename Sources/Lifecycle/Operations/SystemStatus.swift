import Glibc
import Mounting
import SystemPackage
import SystemSupport

/// The state of every kernel version under EROOT/usr/src, for `ksqsh status`.
public struct SystemStatus: Sendable {
    public let root: String
    /// Where EROOT/usr/src/linux points, if it is a symlink.
    public let symlink: String?
    public let kernels: [KernelStatus]

    public init(eroot: FilePath) {
        root = eroot.string
        let inventory = KernelInventory(eroot: eroot)
        let table = (try? MountTable.current()) ?? MountTable(entries: [])
        let packages = InstalledPackages(eroot: eroot)
        let modules = InstalledModuleTrees(eroot: eroot)
        let link = KernelSymlink.target(of: KernelLayout.sourcesDirectory(eroot: eroot).appending("linux"))
        symlink = link
        kernels = inventory.allVersions.map { version in
            KernelStatus(layout: KernelLayout(eroot: eroot, version: version), table: table, packages: packages, modules: modules, symlink: link)
        }
    }
}
