import Glibc
import ImageEngine
import Lifecycle
import Mounting
import SystemPackage
import SystemSupport

/// Carries out a phase's plan for `ksqsh hook PHASE`, printing one line per
/// step for the build log.
public struct HookRunner {
    /// The hook ↔ helper interface this ksqsh speaks. A hook passes the
    /// version it was generated for; hooks live on in installed packages
    /// and binary packages, so every older version stays supported.
    public static let interfaceVersion = 1

    public let phase: Phase
    public let environment: PortageEnvironment
    public var log: (String) -> Void = { print($0) }

    public init(phase: Phase, environment: PortageEnvironment) {
        self.phase = phase
        self.environment = environment
    }

    public func run() throws {
        for warning in environment.settingWarnings { log("warning: \(warning)") }
        if phase == .postPkgPostinst, let warning = MountEnvironment.vanishingMountWarning(for: .portagePhase(features: environment.features)) {
            log("warning: \(warning)")
        }
        for action in PhasePlan.actions(for: phase, in: environment) {
            try perform(action)
        }
    }

    private func perform(_ action: PlannedAction) throws {
        switch action {
        case .squashSources(let tree, let image, let previous):
            try squash(tree: tree, image: image, reusing: previous.newest(eroot: environment.eroot))
        case .checkPackageImage(let image, let mountPoint):
            if !isRegularFile(image), environment.settings.fallbackToPlain, isDirectory(mountPoint), hasEntries(mountPoint) {
                log("package holds plain sources (KSQSH_FALLBACK=plain): nothing to check")
                return
            }
            guard isRegularFile(image) else {
                throw KsqshError(.internalError, path: image, "the package holds no image: did src_install copy WORKDIR/linux* as kernel-2 does?")
            }
            if isDirectory(mountPoint), hasEntries(mountPoint) {
                throw KsqshError(.pathRefused, path: mountPoint, "the package installs files inside the mount point; portage could not merge them over the read-only image")
            }
            log("package holds \(image.lastComponent!), nothing inside \(mountPoint.lastComponent!)")
        case .unmount(let layout):
            try unmount(layout)
        case .mountAndPrepare(let layout, let symlink, let modules):
            guard isRegularFile(layout.image) else {
                log("\(layout.image) is not installed (plain sources): nothing to mount")
                return
            }
            var prepare = Prepare(layout: layout)
            prepare.symlink = symlink
            prepare.modules = modules
            prepare.root = environment.root
            prepare.package = environment.package
            let report = try prepare.run()
            log("\(layout.mountPoint): mounted from \(layout.image.lastComponent!)")
            for line in report.configLines(layout) { log(line) }
            if symlink { log("\(layout.symlink) -> \(layout.buildDirectory.lastComponent!)") }
        case .unmountAndRemoveMountPoint(let layout):
            try unmount(layout)
            if isDirectory(layout.mountPoint), !hasEntries(layout.mountPoint) {
                try? layout.mountPoint.removeDirectory()
            }
        case .clean(let layout):
            var clean = Clean(layout: layout)
            clean.removeImage = false  // portage removes the files it installed
            for step in try clean.run() { log("\(step)") }
        case .keep(let reason):
            log(reason)
        }
    }

    private func squash(tree: FilePath, image: FilePath, reusing previous: FilePath?) throws {
        guard isDirectory(tree) else {
            throw KsqshError(.sourceMissing, path: tree, "no sources to squash (S is not WORKDIR/linux-KV_FULL?)")
        }
        // src_install run again on the same WORKDIR: the tree is already in the image.
        if isRegularFile(image) && !hasEntries(tree) {
            log("\(image.lastComponent!) already holds the sources: nothing to do")
            return
        }
        var squash = Squash(source: tree, image: image)
        squash.options = environment.settings.squashOptions
        if let previous { squash.options.reuse = [previous] }
        squash.verify = true
        squash.deleteSource = true
        squash.force = true
        squash.quiet = true
        do {
            let result = try squash.run()
            let summary = result.summary
            for problem in summary.reuse?.problems ?? [] { log("warning: \(problem)") }
            let reused = summary.reuse.map { " (\($0.summary))" } ?? ""
            log("\(image.lastComponent!): \(summary.entries) entries, \(summary.inputBytes / 1_000_000) MB → \(summary.imageBytes / 1_000_000) MB\(reused), verified; sources removed")
        } catch let error as KsqshError where environment.settings.fallbackToPlain && error.kind != .deleteFailed {
            // The tree is untouched (it is emptied only after a verified image exists).
            log("warning: \(error.description)")
            log("warning: KSQSH_FALLBACK=plain: installing the sources unsquashed")
        }
    }

    /// A busy mount (someone's shell in it) is detached lazily: the merge or
    /// removal must go on, and the kernel frees it when the last user leaves.
    private func unmount(_ layout: KernelLayout) throws {
        do {
            if try KernelMounts.unmount(layout) { log("\(layout.mountPoint): unmounted") }
        } catch let error as KsqshError where error.kind == .mountPointOccupied {
            // Not ours: left alone. The merge does not need it gone; postinst will say it cannot mount.
            log("warning: \(error.description)")
        } catch let error as KsqshError where error.kind == .mountBusy {
            log("warning: \(error.description)")
            try KernelMounts.unmount(layout, lazy: true)
            log("\(layout.mountPoint): detached (lazy unmount)")
        }
    }
}
