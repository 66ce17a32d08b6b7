import Glibc
import Testing

/// `--delete-source`: SRC's contents go only after the image has been written
/// and verified; SRC itself stays, empty. Any failure leaves SRC untouched.
@Suite("--delete-source", .serialized, .hangGuard)
struct DeleteSourceTests {
    /// `cp -a SRC COPY`: the reference the image is checked against once SRC is gone.
    static func copyTree(_ source: ByteString, to copy: ByteString) throws -> Manifest {
        try Subprocess.runChecked("cp", ["-a", "--", source, copy])
        let original = try Manifest.scan(source)
        let copied = try Manifest.scan(copy)
        let differences = Manifest.differences(actual: copied, expected: original, .exact)
        guard differences.isEmpty else { throw TestSetupError("cp -a made an inexact copy: \(differences)") }
        return copied
    }

    @Test("After success SRC is an empty directory and the image holds the original tree")
    func deletesContentsAfterVerifying() throws {
        let work = try Workspace("delete-ok")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let copy = work["copy"]
        let original = try Self.copyTree(fixture.root, to: copy)

        let result = try Ksqsh.squash(fixture.root, work.image, ["--verify", "--delete-source"])
        expectSuccess(result)
        #expect(FS.isDirectory(fixture.root), "SRC itself must remain")
        let left = try FS.list(fixture.root)
        #expect(left.isEmpty, "SRC must be empty, holds \(left)")
        #expect(try FS.list(work.imageDirectory) == [work.image.lastComponent])

        expectSuccess(try Ksqsh.verify(work.image, against: copy))
        if Requirements.hasUnsquashfs {
            try Unsquashfs.extract(work.image, to: work["out"])
            expectTreesMatch(try Manifest.scan(work["out"]), original, .init(ownership: IndependentReaderTests.defaultOwnership), reader: "unsquashfs")
        }
    }

    @Test("--delete-source without --verify still verifies before deleting, or is refused as a usage error")
    func deleteSourceImpliesVerify() throws {
        let work = try Workspace("delete-alone")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let copy = work["copy"]
        let original = try Self.copyTree(fixture.root, to: copy)
        let result = try Ksqsh.squash(fixture.root, work.image, ["--delete-source"])
        if result.exitCode == Ksqsh.Exit.usage {
            expectUnchanged(fixture.root, before: original)
            #expect(!FS.exists(work.image))
        } else {
            expectSuccess(result)
            #expect(try FS.list(fixture.root).isEmpty)
            expectSuccess(try Ksqsh.verify(work.image, against: copy))
        }
    }

    @Test(
        "When the squash fails (disk full) SRC is untouched",
        .enabled(if: Requirements.isRoot, "needs root to mount a tiny tmpfs")
    )
    func failureKeepsSource() throws {
        let work = try Workspace("delete-full")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        try FS.writeFile(fixture.root / "incompressible", Content.random(2 << 20, seed: 4242))
        let before = try Manifest.scan(fixture.root)
        let directory = work["tiny"]
        try FS.mkdir(directory)
        try Mounts.withTmpfs("size=256k", at: directory) {
            let image = directory / "linux.sqfs"
            let result = try Ksqsh.squash(fixture.root, image, ["--verify", "--delete-source"])
            expectCleanFailure(result, exit: Ksqsh.Exit.noSpace, naming: directory, image: image,
                               imageDirectoryBefore: [], source: fixture.root, sourceBefore: before)
        }
    }

    @Test("When IMAGE exists (20) SRC is untouched")
    func existingImageKeepsSource() throws {
        let work = try Workspace("delete-exists")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let before = try Manifest.scan(fixture.root)
        try FS.writeFile(work.image, Array("old".utf8))
        let result = try Ksqsh.squash(fixture.root, work.image, ["--verify", "--delete-source"])
        #expect(result.exitCode == Ksqsh.Exit.imageExists, "\(result)")
        #expect(try FS.readFile(work.image) == Array("old".utf8))
        expectUnchanged(fixture.root, before: before)
    }

    @Test(
        "An entry that cannot be deleted exits 50, keeps the verified image and names the entry",
        .enabled(if: Requirements.isRoot && Subprocess.isInstalled("chattr"), "needs root and chattr to make a file immutable")
    )
    func deleteFailure() throws {
        let work = try Workspace("delete-fail")
        let fixture = try work.buildFixture(large: false)
        let stuck = fixture.root / FixtureTree.plainFile
        defer {
            _ = try? Subprocess.run("chattr", ["-i", stuck])
            work.remove()
        }
        let copy = work["copy"]
        _ = try Self.copyTree(fixture.root, to: copy)
        guard (try Subprocess.run("chattr", ["+i", stuck])).succeeded else {
            try Test.cancel("this file system does not support the immutable attribute")
        }
        let result = try Ksqsh.squash(fixture.root, work.image, ["--verify", "--delete-source"])
        #expect(result.exitCode == Ksqsh.Exit.deleteFailed, "\(result)")
        expectReport(result, headlineNaming: fixture.root, listing: FixtureTree.plainFile)
        #expect(FS.exists(stuck))
        #expect(FS.exists(work.image), "the image was verified before deleting: it must be kept")
        expectSuccess(try Ksqsh.verify(work.image, against: copy))
    }
}
