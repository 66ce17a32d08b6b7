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
            (never overwritten); the saved /etc/kernels/kernel-config-KV; the newest \
            config of another version; /proc/config.gz; else make defconfig.
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
            return try prepare.run()
        }
        if modules && !report.modulesPrepared {
            writeToStandardErrorLine("ksqsh: warning: \(layout.buildDirectory)/.config has CONFIG_MODULES unset: there is nothing to prepare for external modules")
        }
        print("\(layout.buildDirectory): configured from \(report.configSource)\(report.modulesPrepared ? ", modules prepared" : "")")
        if symlink { print("\(layout.symlink) -> \(layout.buildDirectory.lastComponent!)") }
    }
}
