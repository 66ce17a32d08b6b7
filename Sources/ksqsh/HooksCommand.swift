import ArgumentParser
import Portage
import SystemPackage
import SystemSupport

struct HooksCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hooks",
        abstract: "Install, remove or print the portage env hooks, boot-time mount scripts and installkernel plugin.",
        subcommands: [Install.self, Remove.self, Print.self, Service.self]
    )

    /// The helper the generated scripts call: this ksqsh, wherever it is installed.
    static func ownPath() -> FilePath {
        FilePath(ProcessEnvironment.executablePath ?? "/usr/local/bin/ksqsh")
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write etc/portage/env/sys-kernel/<PN>, etc/local.d/ksqsh.{start,stop}, ksqsh-mount.service and etc/kernel/postinst.d/90-ksqsh.",
            discussion: "Refuses to overwrite files ksqsh did not write; a rerun updates its own."
        )

        @Option(help: "The root to install under.")
        var root = "/"

        @Option(name: .customLong("package"), help: "A kernel-2 sources package (repeatable; default gentoo-sources).")
        var packages: [String] = []

        @Option(name: .customLong("init"), help: "Boot-time mount for openrc, systemd, or both; auto: what ROOT has.")
        var initSystem: InitSystem = .auto

        @Option(help: "The ksqsh the scripts call (default: this one).")
        var helper: String?

        func validate() throws {
            try requireRootDirectory(root)
            for package in packages where !HookInstallation.isValidPackageName(package) {
                throw ValidationError("'\(package)' is not a package name (e.g. gentoo-sources)")
            }
        }

        func run() throws {
            var installation = HookInstallation(helper: helper.map(CommandLinePath.filePath) ?? HooksCommand.ownPath())
            installation.root = CommandLinePath.filePath(root)
            if !packages.isEmpty { installation.packages = packages }
            installation.initSystem = initSystem
            for path in try reportingErrors({ try installation.install() }) { print("wrote \(path)") }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove every file 'hooks install' wrote.")

        @Option(help: "The root to remove from.")
        var root = "/"

        func validate() throws { try requireRootDirectory(root) }

        func run() throws {
            var installation = HookInstallation(helper: HooksCommand.ownPath())
            installation.root = CommandLinePath.filePath(root)
            let removed = try reportingErrors { try installation.remove() }
            if removed.isEmpty { print("no ksqsh hooks installed under \(root)") }
            for path in removed { print("removed \(path)") }
        }
    }

    struct Print: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the env hook for a package.")

        @Argument(help: "The package name (e.g. gentoo-sources).")
        var package = "gentoo-sources"

        @Option(help: "The ksqsh the hook calls (default: this one).")
        var helper: String?

        func validate() throws {
            guard HookInstallation.isValidPackageName(package) else { throw ValidationError("'\(package)' is not a package name") }
        }

        func run() throws {
            let text = try reportingErrors {
                try HookTemplate.portageEnvHook.render(package: package, helper: helper.map(CommandLinePath.filePath) ?? HooksCommand.ownPath())
            }
            print(text, terminator: "")
        }
    }
}
