import ArgumentParser
import Lifecycle
import SystemPackage
import SystemSupport

/// Which system a command acts on: portage's ROOT and EPREFIX.
struct RootOptions: ParsableArguments {
    @Option(help: "The root the system lives under, as portage's ROOT.")
    var root = "/"

    @Option(help: "The offset prefix, as portage's EPREFIX.")
    var eprefix = ""

    func validate() throws { try requireRootDirectory(root) }

    var rootPath: FilePath { CommandLinePath.filePath(root) }

    var eroot: FilePath { KernelLayout.eroot(root: rootPath, eprefix: eprefix) }
}

/// Which kernel a lifecycle command acts on, and under which root.
struct KernelOptions: ParsableArguments {
    @OptionGroup var system: RootOptions

    @Option(name: .customLong("kernel"), help: "Kernel version (KV_FULL, e.g. 6.12.10-gentoo); may be left out when only one image exists.")
    var kernel: String?

    /// Runs after `system`'s own check (ROOT first, as the options are listed).
    func validate() throws {
        if let kernel, KernelVersion(kernel) == nil {
            throw ValidationError("'\(kernel)' is not a kernel version (digits first, then letters, digits, '.', '_', '+', '-')")
        }
    }

    var eroot: FilePath { system.eroot }

    /// The layout for the given or only version.
    func layout() throws -> KernelLayout {
        let version = try KernelInventory(eroot: eroot).resolve(kernel.flatMap(KernelVersion.init))
        return KernelLayout(eroot: eroot, version: version)
    }
}
