import ArgumentParser
import Lifecycle
import SystemPackage
import SystemSupport

/// Which kernel a lifecycle command acts on, and under which root.
struct KernelOptions: ParsableArguments {
    @Option(help: "The root the system lives under, as portage's ROOT.")
    var root = "/"

    @Option(help: "The offset prefix, as portage's EPREFIX.")
    var eprefix = ""

    @Option(name: .customLong("kernel"), help: "Kernel version (KV_FULL, e.g. 6.12.10-gentoo); may be left out when only one image exists.")
    var kernel: String?

    func validate() throws {
        try requireRootDirectory(root)
        if let kernel, KernelVersion(kernel) == nil {
            throw ValidationError("'\(kernel)' is not a kernel version (digits first, then letters, digits, '.', '_', '+', '-')")
        }
    }

    var eroot: FilePath { KernelLayout.eroot(root: CommandLinePath.filePath(root), eprefix: eprefix) }

    /// The layout for the given or only version.
    func layout() throws -> KernelLayout {
        let version = try KernelInventory(eroot: eroot).resolve(kernel.flatMap(KernelVersion.init))
        return KernelLayout(eroot: eroot, version: version)
    }
}
