import Glibc
import Mounting
import SystemPackage
import SystemSupport

public struct KernelStatus: Sendable {
    public let version: String
    public let image: String?
    public let imageBytes: UInt64?
    /// "mounted", "empty", "unpacked" (a plain source tree) or "absent".
    public let mountPoint: String
    public let loopDevice: String?
    public let buildDirectory: String?
    public let configured: Bool
    /// The build dir holds a finished build, slimmed or not (`BuildDirectoryState`).
    public let built: Bool
    /// Kernels under /lib/modules whose `build` link names this build dir.
    public let installedReleases: [String]
    public let savedConfig: String?
    /// The installed package owning the image, where portage's database is readable.
    public let package: String?
    public let symlinked: Bool
    /// Each a line with the command that fixes it (KernelProblems).
    public private(set) var problems: [String] = []

    init(layout: KernelLayout, table: MountTable, packages: InstalledPackages, modules: InstalledModuleTrees, symlink: String?) {
        version = layout.version.text
        let info = (try? layout.image.stat()).flatMap { $0.type == .regular ? $0 : nil }
        let hasImage = info != nil
        image = hasImage ? layout.image.string : nil
        imageBytes = info.map { UInt64($0.size) }

        let mount = table.mount(at: layout.mountPoint)
        loopDevice = mount?.source
        if mount != nil {
            mountPoint = "mounted"
        } else if isDirectory(layout.mountPoint) {
            mountPoint = hasEntries(layout.mountPoint) ? "unpacked" : "empty"
        } else {
            mountPoint = "absent"
        }
        buildDirectory = isDirectory(layout.buildDirectory) ? layout.buildDirectory.string : nil
        configured = isRegularFile(layout.buildDirectory.appending(".config"))
        built = BuildDirectoryState.isBuilt(layout.buildDirectory)
        installedReleases = modules.releases(buildingIn: layout.buildDirectory)
        savedConfig = isRegularFile(layout.savedConfig) ? layout.savedConfig.string : nil
        package = packages.owner(of: layout.image)
        let linkNames = [layout.buildDirectory, layout.mountPoint].map { $0.lastComponent!.string }
        symlinked = symlink.map { linkNames.contains(FilePath($0).lastComponent?.string ?? "") } ?? false

        problems = KernelProblems(layout: layout, mount: mount, symlink: symlink, packagesReadable: packages.isAvailable).of(self)
    }
}
