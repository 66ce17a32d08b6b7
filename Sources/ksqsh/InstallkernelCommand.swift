import ArgumentParser
import Mounting
import Lifecycle
import Portage
import SystemSupport

struct InstallkernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "installkernel",
        abstract: "Save the .config of a kernel just installed (and slim its build dir), if ksqsh built it.",
        discussion: """
            The installkernel plugin /etc/kernel/postinst.d/90-ksqsh (written by \
            'ksqsh hooks install') runs this with installkernel's arguments after \
            'make install'. The build dir is the one ROOT/lib/modules/RELEASE/build \
            names, or for a kernel without modules the build dir whose \
            include/config/kernel.release is RELEASE. Its .config is saved as \
            ROOT/etc/kernels/kernel-config-KV (a different one already there is kept \
            as kernel-config-KV~TIME). With KSQSH_SLIM=yes (the environment, or \
            /etc/ksqsh.conf) the build dir is then slimmed as 'ksqsh slim' does. \
            A kernel built elsewhere is left alone.
            """
    )

    @OptionGroup var system: RootOptions

    @Argument(help: "The installed kernel's release (uname -r).")
    var release: String

    @Argument(help: "The installed image (installkernel passes it; not read).")
    var image: String?

    func validate() throws {
        guard KernelVersion(release) != nil else {
            throw ValidationError("'\(release)' is not a kernel release (digits first, then letters, digits, '.', '_', '+', '-')")
        }
    }

    func run() throws {
        let variables = ProcessEnvironment.all
        let settings = HookSettings.read(file: HookSettings.file(eprefix: system.eprefix, variables: variables), variables: variables)
        for problem in settings.problems { writeToStandardErrorLine("ksqsh: warning: \(problem.description); the default stands") }
        var installed = InstalledKernel(eroot: system.eroot, release: KernelVersion(release)!)
        installed.slim = settings.settings.slimAfterInstall
        let report = try reportingErrors {
            try MountEnvironment.requireRoot(to: "save the config of kernel \(release)")
            return try installed.run()
        }
        guard let layout = report.layout else {
            print("ksqsh: \(release) was not built in a build dir under \(KernelLayout.sourcesDirectory(eroot: system.eroot)); nothing to do")
            return
        }
        if let saved = report.savedConfig { print("ksqsh: \(layout.buildDirectory.appending(".config")): \(saved)") }
        if let slim = report.slim { print("ksqsh: \(SlimCommand.summary(slim, of: layout))") }
        if let refused = report.slimRefused { writeToStandardErrorLine("ksqsh: warning: not slimmed: \(refused.description)") }
    }
}
