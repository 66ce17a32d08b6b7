import Glibc
import ImageEngine
import Mounting
import SystemPackage
import SystemSupport

/// `ksqsh adopt`: turns sources unpacked before ksqsh (EROOT/usr/src/linux-KV
/// as a plain directory) into image + mount + build dir, with the same
/// guarantee as squash: the tree is emptied only after the image is verified.
///
/// Run again after an interruption it finishes the job: a deletion that was
/// under way is resumed (see `DeletionMarker`), and an image beside an
/// emptied tree is mounted and prepared.
public struct Adopt {
    public var layout: KernelLayout
    /// Run `make mrproper` on a tree that was configured or built in place
    /// (after saving its .config): `make O=…` refuses such a tree.
    public var mrproper = false
    public var options = SquashOptions()
    public var quiet = false
    /// Portage's ROOT, for the config chain (see `Prepare.root`).
    public var root: FilePath = "/"

    public init(layout: KernelLayout) { self.layout = layout }

    public struct Report: Sendable {
        public var savedConfig: SavedConfigs.Outcome?
        /// nil when an earlier run had already squashed and emptied the tree.
        public var squash: Squash.Result?
        public var prepare: Prepare.Report
    }

    /// Holds the version's lock throughout (see `KernelLock`).
    public func run() throws -> Report {
        try KernelLock.holding(layout) { try runLocked() }
    }

    /// What an earlier, interrupted adopt left.
    private enum Start {
        case unpacked
        /// The deletion was under way: the tree is partly emptied.
        case deleting
        /// The tree is empty and the image beside it: only mount and prepare are left.
        case squashed
    }

    private func runLocked() throws -> Report {
        let tree = layout.mountPoint
        let start = try checkTree(tree)
        var saved: SavedConfigs.Outcome?
        let config = tree.appending(".config")
        if isRegularFile(config) { saved = try SavedConfigs.save(config, for: layout) }

        if start == .unpacked, let leftover = buildOutputs(in: tree).first {
            guard mrproper else {
                throw KsqshError(
                    .pathRefused, path: tree,
                    "was configured or built in place (\(leftover)); its .config is saved as \(layout.savedConfig). Run again with --mrproper to clean it first")
            }
            let clean = ChildProcess(executable: "make", arguments: ["-C", tree.string, "-s", "mrproper"], removedEnvironment: KernelMake.variablesToUnset)
            guard try clean.run() == 0 else {
                throw KsqshError(.buildFailed, path: tree, "make mrproper failed (its output is above); the tree is untouched otherwise")
            }
        }

        let linkedToTree = KernelSymlink.target(of: layout.symlink).map { FilePath($0).lastComponent?.string == tree.lastComponent?.string } ?? false
        var squashed: Squash.Result?
        if start != .squashed {
            var squash = Squash(source: tree, image: layout.image)
            squash.options = options
            squash.verify = true
            squash.deleteSource = true
            squash.quiet = quiet
            squashed = try squash.run()
        }

        var prepare = Prepare(layout: layout)
        prepare.symlink = linkedToTree
        prepare.root = root
        return Report(savedConfig: saved, squash: squashed, prepare: try prepare.run())
    }

    private func checkTree(_ tree: FilePath) throws -> Start {
        guard isDirectory(tree) else {
            throw KsqshError(.sourceMissing, path: tree, "no unpacked sources to adopt (a real directory is needed, not a symlink)")
        }
        if try MountTable.current().mount(at: tree) != nil {
            throw KsqshError(.mountPointOccupied, path: tree, "is a mount, not unpacked sources: nothing to adopt")
        }
        if isRegularFile(layout.image) {
            // Squash checks that the marker names this image and this tree.
            if try DeletionMarker.read(beside: layout.image) != nil { return .deleting }
            if !hasEntries(tree) { return .squashed }
            throw KsqshError(.imageExists, path: layout.image, "an image already exists beside the sources; check it with 'ksqsh verify \(layout.image) \(tree)'")
        }
        guard isRegularFile(tree.appending("Makefile")), isRegularFile(tree.appending("Kconfig")) else {
            throw KsqshError(.pathRefused, path: tree, "does not look like kernel sources (no Makefile and Kconfig)")
        }
        return .unpacked
    }

    /// What the kernel's Makefile checks before building out of tree.
    private func buildOutputs(in tree: FilePath) -> [String] {
        var found: [String] = []
        if isRegularFile(tree.appending(".config")) { found.append(".config") }
        if isDirectory(tree.appending("include/config")) { found.append("include/config") }
        for arch in directoryNames(tree.appending("arch")) where isDirectory(tree.appending("arch/\(arch)/include/generated")) {
            found.append("arch/\(arch)/include/generated")
        }
        return found
    }
}
