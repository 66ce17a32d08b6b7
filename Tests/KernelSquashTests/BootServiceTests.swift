import Portage
import SystemPackage
import Testing

/// The OpenRC service and systemd unit `make install` puts in a package.
@Suite("Boot services a package installs")
struct BootServiceTests {
    static let helper: FilePath = "/usr/bin/ksqsh"

    static func golden(_ service: BootService) -> String { "Tests/KernelSquashTests/Fixtures/boot-services/\(service.template.rawValue)" }

    @Test("Each service with helper /usr/bin/ksqsh is its golden file (regenerate: ksqsh hooks service NAME --helper /usr/bin/ksqsh)", arguments: BootService.allCases)
    func matchesGoldenFile(service: BootService) throws {
        #expect(try service.render(helper: Self.helper) == (try Repository.text(Self.golden(service))))
    }

    @Test("'ksqsh hooks service' prints what the library renders", arguments: BootService.allCases)
    func commandPrintsRendering(service: BootService) throws {
        let result = try Ksqsh.run(["hooks", "service", ByteString(service.rawValue), "--helper", ByteString(Self.helper.string)])
        expectSuccess(result)
        #expect(result.stdoutText == (try service.render(helper: Self.helper)))
    }

    @Test("The OpenRC service needs localmount, mounts all images, and unmounts them lazily as the systemd unit does")
    func openrcServiceMatchesUnit() throws {
        let service = try BootService.openrc.render(helper: Self.helper)
        let unit = try BootService.systemd.render(helper: Self.helper)
        #expect(service.hasPrefix("#!/sbin/openrc-run\n"))
        #expect(service.contains("\tneed localmount\n"))
        #expect(service.contains("\t\"${helper}\" mount --all\n"))
        #expect(service.contains("\t\"${helper}\" umount --all --lazy\n"))
        #expect(service.contains("helper='/usr/bin/ksqsh'\n"))
        #expect(unit.contains("ExecStart=/usr/bin/ksqsh mount --all\n"))
        #expect(unit.contains("ExecStop=/usr/bin/ksqsh umount --all --lazy\n"))
    }

    @Test("Package files carry the package's marker, never the one 'ksqsh hooks install' takes for its own", arguments: BootService.allCases)
    func notMarkedAsHookFiles(service: BootService) throws {
        let text = try service.render(helper: Self.helper)
        #expect(!HookTemplate.isGenerated(text))
        #expect(text.contains(BootService.marker))
    }

    @Test("The OpenRC service is POSIX sh (openrc-run's language): sh -n, and shellcheck -s sh where installed")
    func openrcServiceIsShell() throws {
        let scratch = try TemporaryDirectory("boot-service")
        defer { scratch.remove() }
        let path = scratch["ksqsh"]
        // Quoting must survive spaces, quotes and dollars in the helper's path.
        try FS.writeFile(path, Array(try BootService.openrc.render(helper: "/opt/k s'q$sh/bin/ksqsh").utf8))
        let syntax = try Subprocess.run("sh", ["-n", path])
        #expect(syntax.succeeded, "\(syntax)")
        if Subprocess.isInstalled("shellcheck") {
            let lint = try Subprocess.run("shellcheck", ["-s", "sh", path])
            #expect(lint.succeeded, "\(lint)")
        }
    }

    @Test("A relative --helper is refused in one line: a boot service has no PATH to search")
    func relativeHelperRefused() throws {
        let result = try Ksqsh.run(["hooks", "service", "openrc", "--helper", "bin/ksqsh"])
        #expect(result.exitCode == 67, "\(result)")
        #expect(result.stderrLines.count == 1, "\(result)")
        #expect(result.stderrText.contains("bin/ksqsh"))
        #expect(result.stdout.isEmpty)
    }
}
