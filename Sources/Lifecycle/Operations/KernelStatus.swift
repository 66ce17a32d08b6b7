import Glibc
import ImageEngine
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
    public let savedConfig: String?
    /// The installed package owning the image, where portage's database is readable.
    public let package: String?
    public let symlinked: Bool
    public let problems: [String]

    init(layout: KernelLayout, table: MountTable, packages: InstalledPackages, symlink: String?) {
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
        savedConfig = isRegularFile(layout.savedConfig) ? layout.savedConfig.string : nil
        package = packages.owner(of: layout.image)
        let linkNames = [layout.buildDirectory, layout.mountPoint].map { $0.lastComponent!.string }
        symlinked = symlink.map { linkNames.contains(FilePath($0).lastComponent?.string ?? "") } ?? false

        var problems: [String] = []
        if let mount, !LoopMount.isBacked(mount, by: layout.image) {
            problems.append("mounted from \(mount.loopBackingFile ?? mount.source), not from its image")
        }
        if mountPoint == "empty" && !hasImage { problems.append("mount point without an image") }
        if hasImage, let damage = KernelStatus.damage(of: layout.image, mounted: mountPoint == "mounted") {
            problems.append("image is damaged: \(damage); check it with ksqsh verify \(layout.image)")
        } else if hasImage && mountPoint != "mounted" {
            problems.append("image not mounted (ksqsh mount --kernel \(version))")
        }
        if hasImage && packages.isAvailable && package == nil { problems.append("image belongs to no installed package") }
        if buildDirectory != nil && !hasImage && mountPoint != "unpacked" { problems.append("build dir without sources") }
        if isRegularFile(DeletionMarker.path(beside: layout.image)) {
            problems.append("emptying the unpacked tree into the image was interrupted (ksqsh adopt --kernel \(version) finishes it)")
        }
        self.problems = problems
    }
}

extension KernelStatus {
    /// What is wrong with an image, if anything. A mounted image passed
    /// `mount`'s metadata check, so only its super block and table layout are
    /// checked again (a few reads); an unmounted one gets the metadata check
    /// `mount` would run, so status says why mounting it would fail.
    static func damage(of image: FilePath, mounted: Bool) -> String? {
        do {
            if mounted {
                try ImageCheck.layout(of: image)
            } else {
                try ImageCheck.metadata(of: image)
            }
            return nil
        } catch let error as KsqshError {
            return error.errno.map { "\(error.message) (\($0))" } ?? error.message
        } catch {
            return "\(error)"
        }
    }
}
