import Glibc
import Testing

/// Same tree, same bytes: whatever the time, the job count, or where the tree
/// and its inodes happen to live.
@Suite("Reproducible images", .serialized, .hangGuard)
struct ReproducibilityTests {
    static func expectIdentical(_ a: ByteString, _ b: ByteString, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try Subprocess.run("cmp", [a, b])
        #expect(result.succeeded, "\(what): images differ: \(result.stdoutText)\(result.stderrText)", sourceLocation: sourceLocation)
    }

    @Test("Two squashes a few seconds apart are byte-identical; the super block time is the newest mtime")
    func identicalWithoutSourceDateEpoch() throws {
        let work = try Workspace("repro-time")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let first = work.imageDirectory / "first.sqfs"
        let second = work.imageDirectory / "second.sqfs"
        try Ksqsh.squashChecked(fixture.root, first)
        sleep(2) // A wall-clock timestamp anywhere would now differ.
        try Ksqsh.squashChecked(fixture.root, second)
        try Self.expectIdentical(first, second, "without SOURCE_DATE_EPOCH")
        let superBlock = try SuperBlock(file: first)
        #expect(Int(superBlock.modificationTime) == FixtureTree.newestMtime, "super block time \(superBlock.modificationTime), newest mtime in the tree \(FixtureTree.newestMtime)")
    }

    @Test("SOURCE_DATE_EPOCH sets the super block time and the images stay identical")
    func identicalWithSourceDateEpoch() throws {
        let work = try Workspace("repro-sde")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let first = work.imageDirectory / "first.sqfs"
        let second = work.imageDirectory / "second.sqfs"
        try Ksqsh.squashChecked(fixture.root, first, environment: ["SOURCE_DATE_EPOCH": "1234567890"])
        sleep(1)
        try Ksqsh.squashChecked(fixture.root, second, environment: ["SOURCE_DATE_EPOCH": "1234567890"])
        try Self.expectIdentical(first, second, "with SOURCE_DATE_EPOCH=1234567890")
        #expect(try SuperBlock(file: first).modificationTime == 1_234_567_890)

        // File mtimes are the source's: SOURCE_DATE_EPOCH only sets the
        // super block (the contract keeps mode bits and mtimes).
        let unsquashed = work["out"]
        if Requirements.hasUnsquashfs {
            try Unsquashfs.extract(first, to: unsquashed)
            let extracted = try Manifest.scan(unsquashed)
            #expect(extracted["times/year-2030"]?.mtime == FixtureTree.newestMtime)
            #expect(extracted["times/epoch-zero"]?.mtime == 0)
        }
    }

    @Test("--jobs 1 and --jobs 2 give byte-identical images")
    func identicalForAnyJobCount() throws {
        let work = try Workspace("repro-jobs")
        defer { work.remove() }
        let fixture = try work.buildFixture()
        let one = work.imageDirectory / "jobs1.sqfs"
        let two = work.imageDirectory / "jobs2.sqfs"
        let all = work.imageDirectory / "jobs-default.sqfs"
        try Ksqsh.squashChecked(fixture.root, one, ["--jobs", "1"])
        try Ksqsh.squashChecked(fixture.root, two, ["--jobs", "2"])
        try Ksqsh.squashChecked(fixture.root, all)
        try Self.expectIdentical(one, two, "--jobs 1 vs --jobs 2")
        try Self.expectIdentical(one, all, "--jobs 1 vs default (all cores)")
    }

    @Test("Two copies of a tree in different places, with different inode numbers, give identical images")
    func identicalForCopies() throws {
        let work = try Workspace("repro-copies")
        defer { work.remove() }
        try FixtureTree.build(at: work["one"], large: false)
        // The second copy is built in a different order of directories on
        // disk: create a few decoys first so inode numbers and readdir order differ.
        try FS.mkdir(work["decoys"])
        for index in 0..<50 { try FS.writeFile(work["decoys"] / ByteString("d\(index)"), []) }
        try FixtureTree.build(at: work["two"], large: false)
        try Ksqsh.squashChecked(work["one"], work.imageDirectory / "one.sqfs")
        try Ksqsh.squashChecked(work["two"], work.imageDirectory / "two.sqfs")
        try Self.expectIdentical(work.imageDirectory / "one.sqfs", work.imageDirectory / "two.sqfs", "two copies of the same tree")
    }
}
