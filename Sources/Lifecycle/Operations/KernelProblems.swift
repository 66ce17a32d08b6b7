import ImageEngine
import Mounting
import SystemPackage
import SystemSupport

/// What `ksqsh status` calls a problem for one kernel version: each a line
/// saying what is wrong and the one command that fixes it. Besides
/// ksqsh's own states (an unmounted or damaged image, an interrupted
/// deletion), the traps of a kernel's later life: a link that leads
/// `make` or a module package to the read-only sources or to a build dir
/// that is gone (eselect kernel, kernel-2 and eclean-kernel each leave one).
struct KernelProblems {
    let layout: KernelLayout
    let mount: MountEntry?
    /// Where EROOT/usr/src/linux points, as written.
    let symlink: String?
    let packagesReadable: Bool

    func of(_ kernel: KernelStatus) -> [String] {
        imageProblems(kernel) + linkProblems(kernel) + buildProblems(kernel)
    }

    private var version: String { layout.version.text }
    private var buildDirectory: FilePath { layout.buildDirectory }

    private func imageProblems(_ kernel: KernelStatus) -> [String] {
        var problems: [String] = []
        let hasImage = kernel.image != nil
        if let mount, !LoopMount.isBacked(mount, by: layout.image) {
            problems.append("mounted from \(mount.loopBackingFile ?? mount.source), not from its image")
        }
        if kernel.mountPoint == "empty" && !hasImage { problems.append("mount point without an image") }
        if hasImage, let damage = KernelProblems.damage(of: layout.image, mounted: kernel.mountPoint == "mounted") {
            problems.append("image is damaged: \(damage); check it with ksqsh verify \(layout.image)")
        } else if hasImage && kernel.mountPoint != "mounted" {
            problems.append("image not mounted (ksqsh mount --kernel \(version))")
        }
        if hasImage && packagesReadable && kernel.package == nil { problems.append("image belongs to no installed package") }
        if kernel.buildDirectory != nil && !hasImage && kernel.mountPoint != "unpacked" { problems.append("build dir without sources") }
        if isRegularFile(DeletionMarker.path(beside: layout.image)) {
            problems.append("emptying the unpacked tree into the image was interrupted (ksqsh adopt --kernel \(version) finishes it)")
        }
        return problems
    }

    /// EROOT/usr/src/linux and the /lib/modules build links that name this version.
    private func linkProblems(_ kernel: KernelStatus) -> [String] {
        var problems: [String] = []
        let linkName = symlink.flatMap { FilePath($0).lastComponent?.string }
        // The image's mount point is read-only and has no .config: `make`
        // there fails, and linux-info finds no config to check.
        if linkName == layout.mountPoint.lastComponent?.string, kernel.image != nil {
            problems.append(
                "\(layout.symlink) points at the read-only sources \(layout.mountPoint.lastComponent!), where make and module packages find no .config (ksqsh prepare --kernel \(version) --symlink points it at the build dir)")
        }
        guard kernel.buildDirectory == nil else { return problems }
        if linkName == buildDirectory.lastComponent?.string {
            problems.append("\(layout.symlink) points at \(buildDirectory), which is gone (\(recreate(kernel)))")
        }
        for release in kernel.installedReleases {
            problems.append(
                "\(layout.eroot.appending("lib/modules/\(release)/build")) points at \(buildDirectory), which is gone (\(recreate(kernel)))")
        }
        return problems
    }

    /// A configured build dir without a build, where something relies on
    /// one: the linked version (module packages build against
    /// /usr/src/linux and need its Module.symvers) or an installed kernel.
    private func buildProblems(_ kernel: KernelStatus) -> [String] {
        guard kernel.configured, !kernel.built else { return [] }
        let linked = symlink.flatMap { FilePath($0).lastComponent?.string } == buildDirectory.lastComponent?.string
        guard linked || !kernel.installedReleases.isEmpty else { return [] }
        return ["configured but not built: out-of-tree modules need its Module.symvers (make -C \(buildDirectory))"]
    }

    private func recreate(_ kernel: KernelStatus) -> String {
        let from = kernel.savedConfig.map { " from \($0)" } ?? ""
        return "ksqsh prepare --kernel \(version) recreates it\(from)"
    }

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
