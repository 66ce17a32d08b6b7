import Glibc
import Testing

/// The fixture and the manifest are the yardstick for every other test, so
/// they are checked first, without ksqsh.
@Suite("Fixture tree and manifest", .hangGuard)
struct FixtureTreeTests {
    @Test("The fixture holds every kind of entry the images must carry")
    func fixtureHasEveryEdgeCase() throws {
        let work = try Workspace("fixture")
        defer { work.remove() }
        let fixture = try work.buildFixture()
        let manifest = try Manifest.scan(fixture.root)

        func entry(_ path: ByteString) -> ManifestEntry? { manifest[path] }

        for (name, size) in [("empty", 0), ("one-byte", 1), ("4095", 4095), ("4096", 4096), ("4097", 4097),
                             ("1MiB-1", (1 << 20) - 1), ("1MiB", 1 << 20), ("1MiB+1", (1 << 20) + 1), ("3MiB+17", 3 << 20 + 17)] {
            #expect(entry("sizes" / ByteString(name))?.size == Int64(size), "sizes/\(name)")
        }
        let sparse = try #require(entry(FixtureTree.sparseFile))
        #expect(sparse.size == Int64(FixtureTree.sparseFileSize))
        #expect(sparse.allocatedBlocks * 512 < 8 << 20, "the 64 MiB file must be sparse on disk (allocated \(sparse.allocatedBlocks * 512) bytes)")

        // The non-UTF-8 names exist with exactly those bytes.
        #expect(entry(FixtureTree.nonUTF8Name)?.type == .file)
        #expect(entry(FixtureTree.nonUTF8Directory)?.type == .directory)
        #expect(String(validating: FixtureTree.nonUTF8Name.bytes, as: UTF8.self) == nil)
        #expect(entry("names" / ByteString("new\nline"))?.type == .file)
        #expect(entry("names" / ByteString(String(repeating: "n", count: 255)))?.type == .file)

        #expect(entry(FixtureTree.symlinkLong)?.symlinkTarget?.count == 1000)
        #expect(entry("links/dangling")?.symlinkTarget == "does/not/exist")

        let pair = FixtureTree.hardLinkPair.map { entry($0)?.linkGroup }
        #expect(pair == [FixtureTree.hardLinkPair[0], FixtureTree.hardLinkPair[0]])
        let triple = Set(FixtureTree.hardLinkTriple.map { entry($0)?.linkGroup })
        #expect(triple == [FixtureTree.hardLinkTriple.min()!])
        #expect(entry("dups/big-text-a")?.linkGroup == nil)
        #expect(entry("dups/big-text-a")?.contentHash == entry("dups/nested/big-text-b")?.contentHash)

        #expect(entry(FixtureTree.fifo)?.type == .fifo)
        if fixture.hasDevices {
            #expect(entry("special/char-null")?.type == .characterDevice)
            #expect(entry("special/char-null")?.deviceMajor == 1)
            #expect(entry("special/char-null")?.deviceMinor == 3)
            #expect(entry("special/block-loop")?.type == .blockDevice)
            #expect(entry("special/char-big-minor")?.deviceMinor == 300)
        }

        #expect(entry("modes/m4755-setuid")?.permissions == 0o4755)
        #expect(entry("modes/m2711-setgid")?.permissions == 0o2711)
        #expect(entry("modes/d1777-sticky")?.permissions == 0o1777)
        #expect(entry("modes/m0444")?.permissions == 0o444)

        #expect(entry("times/epoch-zero")?.mtime == 0)
        #expect(entry("times/link-epoch-zero")?.mtime == 0)
        #expect(entry("times/year-2030")?.mtime == FixtureTree.newestMtime)
        #expect(manifest.root?.mtime == FixtureTree.rootMtime)
        #expect(manifest.entries.values.map(\.mtime).max() == FixtureTree.newestMtime)
        #expect(entry("empty")?.mtime == 0)
    }

    @Test("Two fixtures built apart are identical, and the manifest sees a one-byte change")
    func fixtureIsDeterministicAndManifestIsSensitive() throws {
        let work = try Workspace("fixture-twice")
        defer { work.remove() }
        try FixtureTree.build(at: work["a"], large: false)
        try FixtureTree.build(at: work["b"], large: false)
        let a = try Manifest.scan(work["a"])
        var b = try Manifest.scan(work["b"])
        #expect(Manifest.differences(actual: b, expected: a, .exact).isEmpty)

        // Flip one byte in the middle of a file, keeping size and mtime.
        let victim = work["b"] / FixtureTree.randomFile
        var bytes = try FS.readFile(victim)
        bytes[bytes.count / 2] ^= 0x01
        try FS.writeFile(victim, bytes)
        try FS.setModificationTime(victim, seconds: a[FixtureTree.randomFile]!.mtime)
        b = try Manifest.scan(work["b"])
        let differences = Manifest.differences(actual: b, expected: a, .exact)
        #expect(differences.count == 1 && differences[0].contains("content hash"), "\(differences)")
    }
}
