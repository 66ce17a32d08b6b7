import ArgumentParser
import Portage
import SystemSupport

extension HooksCommand {
    /// What `make install` puts in /etc/init.d and the systemd unit
    /// directory: rendered here so that templates/ stays the one source.
    struct Service: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the boot-time mount service a ksqsh package installs.",
            discussion: "openrc: the service for /etc/init.d/ksqsh; systemd: ksqsh-mount.service for the package's unit directory."
        )

        @Argument(help: "The init system.")
        var initSystem: BootService

        @Option(help: "The installed ksqsh the service runs, an absolute path (default: this one).")
        var helper: String?

        func run() throws {
            let text = try reportingErrors {
                try initSystem.render(helper: helper.map(CommandLinePath.filePath) ?? HooksCommand.ownPath())
            }
            print(text, terminator: "")
        }
    }
}
