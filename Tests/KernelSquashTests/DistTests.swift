import Glibc
import Testing

/// `make dist`, the two tarballs the ebuild fetches, run in a fresh clone of
/// the committed checkout so the developer's working tree never matters.
@Suite("make dist: reproducible tarballs of HEAD and its Swift packages", .serialized, .hangGuard)
struct DistTests {
    static var version: String { get throws { try Checkout.version() } }

    @Test("Two runs a second apart write the same bytes; both tarballs unpack into ksqsh-VERSION/, owned by 0, the deps tarball as SwiftPM leaves a resolve")
    func sameBytesTwice() async throws {
        let scratch = try TemporaryDirectory("dist-twice")
        defer { scratch.remove() }
        let checkout = scratch["ksqsh"]
        try Checkout.clone(to: checkout)

        let first = try await Checkout.makeDist(in: checkout, into: scratch["first"])
        try #require(first.succeeded, "\(first)")
        try await Task.sleep(for: .seconds(1))  // a wall-clock time anywhere in the tarballs would now differ
        let second = try await Checkout.makeDist(in: checkout, into: scratch["second"])
        try #require(second.succeeded, "\(second)")

        let version = try Self.version
        let source = ByteString("ksqsh-\(version).tar.gz")
        let dependencies = ByteString("ksqsh-\(version)-deps.tar.xz")
        for name in [source, dependencies] {
            let compared = try Subprocess.run("cmp", [scratch["first"] / name, scratch["second"] / name])
            #expect(compared.succeeded, "\(name) differs between two runs: \(compared)")
        }

        let prefix = "ksqsh-\(version)/"
        let sourceEntries = try Self.entries(scratch["first"] / source)
        #expect(sourceEntries.names.contains(prefix + "Package.swift"), "\(sourceEntries.names.prefix(20))")
        #expect(sourceEntries.names.contains(prefix + "gentoo/sys-kernel/ksqsh/ksqsh-\(version).ebuild"))
        let dependencyEntries = try Self.entries(scratch["first"] / dependencies)
        for expected in [
            ".build/workspace-state.json", "Package.resolved",
            ".build/checkouts/swift-argument-parser/Package.swift", ".build/checkouts/swift-system/Package.swift",
        ] {
            #expect(dependencyEntries.names.contains(prefix + expected), "the deps tarball lacks \(expected)")
        }
        #expect(!dependencyEntries.names.contains { $0.contains("/.git/") }, "a checkout's .git is in the deps tarball")
        for entries in [sourceEntries, dependencyEntries] {
            #expect(entries.names.allSatisfy { $0.hasPrefix(prefix) }, "entries outside \(prefix)")
            #expect(entries.owners == ["0/0"], "owners: \(entries.owners)")
        }
    }

    @Test("A tree with uncommitted changes is refused: one line on stderr, a non-zero exit, nothing written")
    func dirtyTreeRefused() async throws {
        let scratch = try TemporaryDirectory("dist-dirty")
        defer { scratch.remove() }
        let checkout = scratch["ksqsh"]
        try Checkout.clone(to: checkout)
        let readme = checkout / "README.md"
        try FS.writeFile(readme, FS.readFile(readme) + Array("\nAn edit not yet committed.\n".utf8))

        let before = try Subprocess.runChecked("git", ["-C", checkout, "status", "--porcelain", "--ignored"]).stdoutText
        #expect(before.contains(" M README.md"), "git status: \(before)")

        let output = scratch["out"]
        let result = try await Checkout.makeDist(in: checkout, into: output)
        #expect(result.exitCode != 0, "\(result)")
        #expect(result.stderrLines.count == 1, "stderr must be exactly one line: \(result)")
        #expect(result.stderrText.contains("uncommitted changes"), "\(result)")
        #expect(!FS.exists(output), "make dist created \(output)")
        let after = try Subprocess.runChecked("git", ["-C", checkout, "status", "--porcelain", "--ignored"]).stdoutText
        #expect(after == before, "make dist left something in the checkout: \(after)")
    }

    /// Every entry's name and its owner/group as `tar -tv` shows them.
    static func entries(_ tarball: ByteString) throws -> (names: [String], owners: Set<String>) {
        let listing = try Subprocess.runChecked("tar", ["--numeric-owner", "-tvf", tarball]).stdoutText
        var names: [String] = []
        var owners = Set<String>()
        for line in listing.split(separator: "\n") {
            // mode owner/group size date time name
            let fields = line.split(separator: " ", maxSplits: 5, omittingEmptySubsequences: true)
            guard fields.count == 6 else { continue }
            owners.insert(String(fields[1]))
            names.append(String(fields[5]))
        }
        return (names, owners)
    }
}
