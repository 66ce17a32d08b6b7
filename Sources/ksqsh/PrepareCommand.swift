import ArgumentParser
import ImageEngine
import Lifecycle
import SystemPackage
import SystemSupport

struct PrepareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prepare",
        abstract: "Mount the sources and configure the build dir /usr/src/build-KV.",
        discussion: """
            Runs the kernel's own 'make O=build-KV olddefconfig' (ARCH unset). The \
            config comes from the first of: --config FILE; the build dir's .config \
            (never overwritten); the saved /etc/kernels/kernel-config-KV; the \
            savedconfig /etc/portage/savedconfig/sys-kernel/PF, P or PN of the \
            package that installed it (the image's owner in /var/db/pkg); the newest \
            config of another version; /proc/config.gz (only when --root is /: \
            another root may be another machine's); else make defconfig. The \
            fragments /etc/kernel/config.d/*.config are then merged over it in \
            name order with the kernel's scripts/kconfig/merge_config.sh -m -r, \
            as dist-kernels do, but never into the build dir's own .config. \
            Paths are under ROOT and EPREFIX.
            """
    )

    @OptionGroup var kernel: KernelOptions

    @Option(help: "Start from this config file.")
    var config: String?

    @Flag(help: "Also run 'make modules_prepare', for out-of-tree modules (zfs-kmod, nvidia-drivers).")
    var modules = false

    @Flag(help: "Point ROOT/usr/src/linux at the build dir.")
    var symlink = false

    func run() throws {
        let layout = try reportingErrors { try kernel.layout() }
        let report = try reportingErrors {
            var prepare = Prepare(layout: layout)
            prepare.config = config.map(CommandLinePath.filePath)
            prepare.modules = modules
            prepare.symlink = symlink
            prepare.root = kernel.system.rootPath
            return try prepare.run()
        }
        if modules && !report.modulesPrepared {
            writeToStandardErrorLine("ksqsh: warning: \(layout.buildDirectory)/.config has CONFIG_MODULES unset: there is nothing to prepare for external modules")
        }
        var lines = report.configLines(layout)
        if report.modulesPrepared { lines[0] += ", modules prepared" }
        for line in lines { print(line) }
        if symlink { print("\(layout.symlink) -> \(layout.buildDirectory.lastComponent!)") }
    }
}
