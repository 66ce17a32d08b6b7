import Glibc
import Testing

/// `make install` refuses bad input before it builds or copies anything:
/// one line on stderr, a non-zero exit, nothing written.
@Suite("make install: bad input", .serialized, .enabled(if: MakeInstall.isReady, MakeInstall.notReady))
struct InstallBadInputTests {
    static func expectRefused(_ result: ProcessResult, saying words: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.exitCode != 0 && result.exitCode != nil, "\(result)", sourceLocation: sourceLocation)
        #expect(result.stderrLines.count == 1, "stderr must be exactly one line: \(result)", sourceLocation: sourceLocation)
        #expect(result.stderrText.contains(words), "stderr should say \(words): \(result)", sourceLocation: sourceLocation)
        #expect(!result.stdoutText.contains("install -D"), "nothing may be copied: \(result)", sourceLocation: sourceLocation)
    }

    @Test("A DESTDIR whose parent does not exist (a typo?) is refused, and not created")
    func destdirParentMissing() throws {
        let scratch = try TemporaryDirectory("make-install-bad")
        defer { scratch.remove() }
        let destdir = scratch["no-such-dir/root"]
        let result = try MakeInstall.make("install", ["DESTDIR": destdir.string, "PREFIX": "/usr", "INIT": "both"])
        Self.expectRefused(result, saying: "\(scratch["no-such-dir"].string) does not exist")
        #expect(try FS.list(scratch.path) == [])
    }

    @Test("A DESTDIR that is a file is refused")
    func destdirIsFile() throws {
        let scratch = try TemporaryDirectory("make-install-bad")
        defer { scratch.remove() }
        try FS.writeFile(scratch["file"], [])
        let result = try MakeInstall.make("install", ["DESTDIR": scratch["file"].string, "INIT": "none"])
        Self.expectRefused(result, saying: "is not a directory")
        #expect(try FS.readFile(scratch["file"]) == [])
    }

    @Test("A relative PREFIX is refused: the services must name the installed binary by an absolute path")
    func relativePrefix() throws {
        let scratch = try TemporaryDirectory("make-install-bad")
        defer { scratch.remove() }
        let result = try MakeInstall.make("install", ["DESTDIR": scratch.path.string, "PREFIX": "usr", "INIT": "both"])
        Self.expectRefused(result, saying: "usr/bin is not an absolute path")
        #expect(try FS.list(scratch.path) == [])
    }

    @Test("An INIT that is not auto, openrc, systemd, both or none is refused, for uninstall too", arguments: ["bogus", "", "openrc systemd"])
    func unknownInit(value: String) throws {
        let scratch = try TemporaryDirectory("make-install-bad")
        defer { scratch.remove() }
        for target in ["install", "uninstall"] {
            let result = try MakeInstall.make(target, ["DESTDIR": scratch.path.string, "INIT": value])
            Self.expectRefused(result, saying: "INIT=\(value) is not one of")
        }
        #expect(try FS.list(scratch.path) == [])
    }

    @Test("Not root, installing into / (no DESTDIR): refused, saying to run as root or stage with DESTDIR",
          .enabled(if: getuid() == 0, "needs root to run make as nobody"))
    func nonRootIntoRoot() throws {
        let result = try MakeInstall.make("install", ["PREFIX": "/usr", "SYSCONFDIR": "/etc", "INIT": "both"], asNobody: true)
        Self.expectRefused(result, saying: "as root")
    }

    @Test("One directory it cannot write refuses the whole install: the writable ones stay empty",
          .enabled(if: getuid() == 0, "needs root to run make as nobody"))
    func everythingCheckedBeforeCopying() throws {
        let scratch = try TemporaryDirectory("make-install-bad")
        defer { scratch.remove() }
        try FS.chmod(scratch.path, 0o755)
        let prefix = scratch["prefix"]  // nobody may write here…
        try FS.mkdir(prefix, mode: 0o777)
        try FS.chmod(prefix, 0o777)
        let sysconf = scratch["etc"]  // …but not here, where the OpenRC service goes
        try FS.mkdir(sysconf)
        let result = try MakeInstall.make("install", ["PREFIX": prefix.string, "SYSCONFDIR": sysconf.string, "INIT": "openrc"], asNobody: true)
        Self.expectRefused(result, saying: "cannot write \(sysconf.string)")
        #expect(try FS.list(prefix) == [], "nothing may be installed when one directory is not writable")
        #expect(try FS.list(sysconf) == [])
    }
}
