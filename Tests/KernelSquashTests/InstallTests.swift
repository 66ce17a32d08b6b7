import Foundation
import Glibc
import ImageEngine
import Portage
import SystemSupport
import Testing

/// `make install` as a package build runs it (the Gentoo ebuild:
/// DESTDIR=${D} PREFIX=/usr SYSCONFDIR=/etc INIT=both), and `make uninstall`.
@Suite("make install", .serialized, .enabled(if: MakeInstall.isReady, MakeInstall.notReady))
struct InstallTests {
    static let package: KeyValuePairs<String, String> = ["PREFIX": "/usr", "SYSCONFDIR": "/etc"]

    static let commonFiles: [String: mode_t] = [
        "usr/bin/ksqsh": 0o755,
        "usr/share/man/man1/ksqsh.1": 0o644,
        "usr/share/bash-completion/completions/ksqsh": 0o644,
        "usr/share/zsh/site-functions/_ksqsh": 0o644,
        "usr/share/fish/vendor_completions.d/ksqsh.fish": 0o644,
    ]
    static let openrcService = "etc/init.d/ksqsh"
    static let systemdUnit = "usr/lib/systemd/system/ksqsh-mount.service"

    /// `make install DESTDIR=<new scratch>/root PREFIX=/usr SYSCONFDIR=/etc INIT=init`.
    static func install(init initSystem: String, into scratch: TemporaryDirectory) throws -> ByteString {
        let destdir = scratch["root"]
        let result = try MakeInstall.make("install", ["DESTDIR": destdir.string, "PREFIX": "/usr", "SYSCONFDIR": "/etc", "INIT": initSystem])
        guard result.succeeded else { throw TestSetupError("make install failed: \(result)") }
        return destdir
    }

    @Test(
        "install lays down exactly the package's files with their modes; uninstall removes exactly them",
        arguments: [
            ("both", [openrcService: 0o755, systemdUnit: 0o644]),
            ("openrc", [openrcService: 0o755]),
            ("systemd", [systemdUnit: 0o644]),
            ("none", [:]),
        ] as [(String, [String: mode_t])]
    )
    func installsExactlyTheFileList(initSystem: String, initFiles: [String: mode_t]) throws {
        let scratch = try TemporaryDirectory("make-install")
        defer { scratch.remove() }
        let destdir = try Self.install(init: initSystem, into: scratch)
        let expected = Self.commonFiles.merging(initFiles) { $1 }
        #expect(try MakeInstall.files(under: destdir) == expected)
        #expect(try FS.readFile(destdir / "usr/bin/ksqsh") == (try FS.readFile(MakeInstall.ksqsh)), "the installed binary is the release build")

        let removed = try MakeInstall.make("uninstall", ["DESTDIR": destdir.string, "PREFIX": "/usr", "SYSCONFDIR": "/etc", "INIT": initSystem])
        expectSuccess(removed)
        #expect(try MakeInstall.files(under: destdir) == [:], "uninstall leaves only directories")
    }

    @Test("The boot services name the installed binary and are the golden files")
    func bootServicesAreGolden() throws {
        let scratch = try TemporaryDirectory("make-install")
        defer { scratch.remove() }
        let destdir = try Self.install(init: "both", into: scratch)
        for (path, service) in [(Self.openrcService, BootService.openrc), (Self.systemdUnit, .systemd)] {
            let installed = String(decoding: try FS.readFile(destdir / ByteString(path)), as: UTF8.self)
            #expect(installed == (try Repository.text(BootServiceTests.golden(service))), "\(path) drifted")
        }
    }

    @Test("The man page is the whole command line: every subcommand ksqsh declares has an entry")
    func manPageNamesEverySubcommand() throws {
        let scratch = try TemporaryDirectory("make-install")
        defer { scratch.remove() }
        let destdir = try Self.install(init: "none", into: scratch)
        let page = String(decoding: try FS.readFile(destdir / "usr/share/man/man1/ksqsh.1"), as: UTF8.self)
        #expect(page.contains("\n.Dt KSQSH 1\n") && page.contains("\n.Sh NAME\n.Nm ksqsh\n"), "not an mdoc page for ksqsh(1)")

        // The declarations, as swift-argument-parser describes them.
        let dump = try Subprocess.runChecked(MakeInstall.ksqsh, ["--experimental-dump-help"])
        let tool = try JSONSerialization.jsonObject(with: Data(dump.stdout)) as? [String: Any]
        func names(_ command: [String: Any]?) -> [String] {
            let subcommands = command?["subcommands"] as? [[String: Any]] ?? []
            return subcommands.flatMap { [$0["commandName"] as? String ?? "?"] + names($0) }
        }
        let subcommands = names(tool?["command"] as? [String: Any])
        #expect(subcommands.contains("squash") && subcommands.contains("service"), "the dump lists no subcommands: \(dump)")
        for name in subcommands {
            #expect(page.contains("\n.It Em \(name)\n"), "the man page has no entry for \(name)")
        }
    }

    @Test("Each completion is a script for its shell, about ksqsh")
    func completionsAreShellScripts() throws {
        let scratch = try TemporaryDirectory("make-install")
        defer { scratch.remove() }
        let destdir = try Self.install(init: "none", into: scratch)
        let checks: [(file: String, shell: String, syntax: [ByteString], mentions: String)] = [
            ("usr/share/bash-completion/completions/ksqsh", "bash", ["-n"], "-F _ksqsh ksqsh\n"),
            ("usr/share/zsh/site-functions/_ksqsh", "zsh", ["-n"], "#compdef ksqsh\n"),
            ("usr/share/fish/vendor_completions.d/ksqsh.fish", "fish", ["--no-execute"], "complete -c 'ksqsh'"),
        ]
        for check in checks {
            let path = destdir / ByteString(check.file)
            let text = String(decoding: try FS.readFile(path), as: UTF8.self)
            #expect(text.contains(check.mentions), "\(check.file) is not a \(check.shell) completion for ksqsh")
            #expect(text.contains("squash") && text.contains("umount"), "\(check.file) does not complete the subcommands")
            // Where the shell is installed, it must parse the script.
            if Subprocess.isInstalled(check.shell) {
                let syntax = try Subprocess.run(ByteString(check.shell), check.syntax + [path])
                #expect(syntax.succeeded, "\(syntax)")
            }
        }
    }

    @Test("install on a built tree starts no SwiftPM build (here it runs inside `swift test`, which holds SwiftPM's lock)")
    func installBuildsNothing() throws {
        let scratch = try TemporaryDirectory("make-install")
        defer { scratch.remove() }
        let dryRun = try MakeInstall.make("install", ["DESTDIR": scratch["root"].string, "INIT": "both"], flags: ["-n"])
        expectSuccess(dryRun)
        #expect(dryRun.stdoutText.contains("install -Dm755"), "\(dryRun)")
        #expect(!dryRun.stdoutText.contains("swift build") && !dryRun.stdoutText.contains("swift package"), "\(dryRun)")
    }
}
