import Lifecycle
import SystemPackage
import SystemSupport

/// Where an upgrade's squash looks for the image of the version it
/// replaces: the images in `sourcesDirectory` that the package named
/// `packageName` (PN) installed, by portage's record of them. Read inside
/// the sandbox, which allows reading anywhere.
public struct PreviousImages: Sendable, Equatable {
    public let sourcesDirectory: FilePath
    public let packageName: String

    public init(sourcesDirectory: FilePath, packageName: String) {
        self.sourcesDirectory = sourcesDirectory
        self.packageName = packageName
    }

    /// The newest of them, if any.
    func newest(eroot: FilePath) -> FilePath? {
        InstalledPackages(eroot: eroot).images(ofPackageNamed: packageName, in: sourcesDirectory).last
    }
}

/// One thing ksqsh does in a phase.
public enum PlannedAction: Sendable, Equatable, CustomStringConvertible {
    /// Squash WORKDIR/linux-KV into WORKDIR/linux-KV.sqfs, verify, empty
    /// the tree; copy the compressed blocks the newest image the same
    /// package installed in `previous`'s usr/src holds too (`--reuse`).
    case squashSources(tree: FilePath, image: FilePath, reusing: PreviousImages)
    /// Check the package image holds the image and nothing inside the mount point.
    case checkPackageImage(image: FilePath, mountPoint: FilePath)
    case unmount(KernelLayout)
    case mountAndPrepare(KernelLayout, symlink: Bool, modules: Bool)
    /// Unmount and remove the (empty) mount point: the package is going.
    case unmountAndRemoveMountPoint(KernelLayout)
    /// Save the .config and remove the build dir: the version is really gone.
    case clean(KernelLayout)
    /// Say why nothing is done.
    case keep(String)

    public var description: String {
        switch self {
        case .squashSources(let tree, let image, let previous):
            "squash \(tree) into \(image) reusing the newest \(previous.packageName) image in \(previous.sourcesDirectory), verify, empty the tree"
        case .checkPackageImage(let image, let mountPoint): "check the package holds \(image) and nothing in \(mountPoint)"
        case .unmount(let layout): "unmount \(layout.mountPoint)"
        case .mountAndPrepare(let layout, let symlink, let modules):
            "mount \(layout.image) at \(layout.mountPoint), prepare \(layout.buildDirectory)"
                + (modules ? " with modules_prepare" : "") + (symlink ? ", point \(layout.symlink) at it" : "")
        case .unmountAndRemoveMountPoint(let layout): "unmount \(layout.mountPoint) and remove it"
        case .clean(let layout): "save \(layout.buildDirectory)/.config, remove the build dir"
        case .keep(let reason): reason
        }
    }
}

/// What ksqsh does in each phase, decided from portage's variables alone,
/// so it can be tested without portage.
public enum PhasePlan {
    public static func actions(for phase: Phase, in environment: PortageEnvironment) -> [PlannedAction] {
        let layout = environment.layout
        switch phase {
        case .preSrcInstall:
            // kernel-2 copies WORKDIR/linux* into ED/usr/src after this: an image
            // beside S goes along, and S (emptied) must still exist for `cd "${S}"`.
            guard let workdir = environment.workdir else { return [.keep("WORKDIR is not set: nothing to squash")] }
            let tree = workdir.appending("linux-\(environment.kernelVersion)")
            let previous = PreviousImages(sourcesDirectory: layout.sourcesDirectory, packageName: environment.packageName)
            return [.squashSources(tree: tree, image: workdir.appending("linux-\(environment.kernelVersion).sqfs"), reusing: previous)]
        case .postSrcInstall:
            guard let ed = environment.ed else { return [.keep("ED is not set: nothing to check")] }
            let packaged = KernelLayout(eroot: ed, version: environment.kernelVersion)
            return [.checkPackageImage(image: packaged.image, mountPoint: packaged.mountPoint)]
        case .prePkgPreinst:
            // A reinstall replaces the image file; the old mount would keep the deleted one.
            return [.unmount(layout)]
        case .postPkgPostinst:
            return [.mountAndPrepare(layout, symlink: environment.use.contains("symlink"), modules: environment.settings.prepareModules)]
        case .prePkgPrerm:
            return [.unmountAndRemoveMountPoint(layout)]
        case .postPkgPostrm:
            // Same-version reinstall: the new copy's postinst reuses the build
            // dir, and its .config with it. Anything else: the version is gone
            // (an upgrade to -rN gets the config through the saved copy).
            if let next = environment.replacedByVersion, next == environment.packageVersion {
                return [.keep("\(environment.packageName)-\(next) replaces itself: keeping \(layout.buildDirectory) and its .config")]
            }
            return [.clean(layout)]
        }
    }
}
