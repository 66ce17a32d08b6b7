import Glibc
import Testing

/// An image is only as good as what other readers make of it. Each test
/// squashes the fixture and reads it back with a reader that shares no code
/// with ksqsh: unsquashfs (squashfs-tools), rdsquashfs (squashfs-tools-ng),
/// and the kernel itself through a loop mount.
@Suite("Independent readers agree with the source", .serialized, .hangGuard)
struct IndependentReaderTests {
    /// ksqsh's default: everything owned by root. As non-root, extractors
    /// cannot chown, so ownership is not compared then.
    static var defaultOwnership: Manifest.Comparison.Ownership { Requirements.isRoot ? .root : .ignore }

    @Test(
        "unsquashfs extracts exactly the source tree: types, modes, mtimes, contents, links, devices",
        .enabled(if: Requirements.hasUnsquashfs, "needs unsquashfs (squashfs-tools)")
    )
    func unsquashfsReadsBackTheSource() throws {
        let work = try Workspace("unsquashfs")
        defer { work.remove() }
        let fixture = try work.buildFixture()
        let source = try Manifest.scan(fixture.root)
        try Ksqsh.squashChecked(fixture.root, work.image)

        let output = work["unsquashfs-out"]
        try Unsquashfs.extract(work.image, to: output)
        let extracted = try Manifest.scan(output)
        expectTreesMatch(extracted, source, .init(ownership: Self.defaultOwnership), reader: "unsquashfs")
    }

    @Test(
        "rdsquashfs unpacks the same tree and reports the same inodes",
        .enabled(if: Requirements.hasRdsquashfs, "needs rdsquashfs (squashfs-tools-ng)")
    )
    func rdsquashfsReadsBackTheSource() throws {
        let work = try Workspace("rdsquashfs")
        defer { work.remove() }
        let fixture = try work.buildFixture()
        let source = try Manifest.scan(fixture.root)
        try Ksqsh.squashChecked(fixture.root, work.image)

        let output = work["rdsquashfs-out"]
        try Rdsquashfs.extract(work.image, to: output)
        let extracted = try Manifest.scan(output)
        // rdsquashfs 1.2 writes each hard link as its own file and leaves the
        // output directory's own mode/mtime alone: those two are checked
        // through `rdsquashfs --stat` below instead.
        let options = Manifest.Comparison(ownership: Self.defaultOwnership, root: false, linkGroups: false)
        expectTreesMatch(extracted, source, options, reader: "rdsquashfs")

        let root = try Rdsquashfs.stat(work.image, "/")
        #expect(root["Access"] == "0755", "root directory mode: \(root)")
        #expect(root["Last modified"]?.hasSuffix("(\(FixtureTree.rootMtime))") == true, "root directory mtime: \(root)")
        #expect(root["UID"]?.hasPrefix("0 ") == true && root["GID"]?.hasPrefix("0 ") == true, "root directory owner: \(root)")

        // Hard links: one inode number and the right link count per group.
        for group in [FixtureTree.hardLinkPair, FixtureTree.hardLinkTriple] {
            let stats = try group.map { try Rdsquashfs.stat(work.image, "/" + $0) }
            let inodes = Set(stats.map { $0["Inode number"] ?? "?" })
            #expect(inodes.count == 1, "\(group) must share one inode: \(stats.map { $0["Inode number"] ?? "?" })")
            for stat in stats {
                #expect(stat["Hard link count"] == "\(group.count)", "\(group): \(stat)")
            }
        }
        let plain = try Rdsquashfs.stat(work.image, "/" + FixtureTree.plainFile)
        // A basic inode has no link count field; rdsquashfs then prints none.
        #expect(plain["Hard link count"] == nil || plain["Hard link count"] == "1", "\(FixtureTree.plainFile): \(plain)")
    }

    @Test(
        "The kernel mounts the image and shows exactly the source tree, hard links and sparse files included",
        .enabled(if: Requirements.isRoot, "needs root for loop mounts"),
        .enabled(if: Mounts.canLoopMount, "needs /dev/loop-control and squashfs support in the kernel")
    )
    func kernelMountShowsTheSource() throws {
        let work = try Workspace("mount")
        defer { work.remove() }
        let fixture = try work.buildFixture()
        let source = try Manifest.scan(fixture.root)
        try Ksqsh.squashChecked(fixture.root, work.image)

        let mountPoint = work["mnt"]
        try FS.mkdir(mountPoint)
        let mounted = try Mounts.withImage(work.image, at: mountPoint) { try Manifest.scan(mountPoint) }
        expectTreesMatch(mounted, source, .init(ownership: .root), reader: "the kernel (loop mount)")

        // Spot checks that would hide in a bulk comparison.
        #expect(mounted[FixtureTree.sparseFile]?.contentHash == source[FixtureTree.sparseFile]?.contentHash)
        #expect(mounted[FixtureTree.hardLinkTriple[2]]?.linkGroup == source[FixtureTree.hardLinkTriple[2]]?.linkGroup)
        #expect(mounted[FixtureTree.nonUTF8Name]?.type == .file)
    }

    @Test(
        "Names in every byte order are found by path lookup in the mounted image",
        .enabled(if: Requirements.isRoot, "needs root for loop mounts"),
        .enabled(if: Mounts.canLoopMount, "needs /dev/loop-control and squashfs support in the kernel")
    )
    func kernelLooksUpEveryName() throws {
        // The kernel binary-searches directory indexes and stops a linear
        // scan at the first larger name: entries out of strcmp order become
        // invisible to lstat by name even though readdir lists them.
        let work = try Workspace("lookup")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        // A directory big enough for several directory headers and an index.
        let big = fixture.root / "many"
        try FS.mkdir(big)
        var names: [ByteString] = []
        for index in 0..<1500 {
            let name = ByteString("f\(index * 7919 % 1500)-" + String(repeating: "x", count: index % 40))
            names.append(name)
            try FS.writeFile(big / name, [])
        }
        try Ksqsh.squashChecked(fixture.root, work.image)
        let mountPoint = work["mnt"]
        try FS.mkdir(mountPoint)
        let source = try Manifest.scan(fixture.root)
        let missing = try Mounts.withImage(work.image, at: mountPoint) {
            source.paths.filter { !FS.exists(mountPoint / $0) }
        }
        #expect(missing.isEmpty, "lstat by name fails in the mounted image for: \(missing.prefix(20))")
    }
}

/// Ownership: root:root by default, kept with --keep-owner.
@Suite("Ownership", .serialized, .hangGuard)
struct OwnershipTests {
    @Test(
        "By default every entry is owned by root/root, even files owned by someone else",
        .enabled(if: Requirements.isRoot, "needs root to chown fixture files to 1234:5678"),
        .enabled(if: Requirements.hasUnsquashfs, "needs unsquashfs (squashfs-tools)")
    )
    func defaultOwnershipIsRoot() throws {
        let work = try Workspace("owner-default")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        try fixture.chownSamples(uid: 1234, gid: 5678)
        try Ksqsh.squashChecked(fixture.root, work.image)

        let named = try Unsquashfs.listing(work.image, numeric: false)
        #expect(named.count > 100, "unsquashfs -lls listed only \(named.count) entries")
        let notRoot = named.filter { $0.owner != "root" || $0.group != "root" }
        #expect(notRoot.isEmpty, "not root/root: \(notRoot.map { "\($0.path) \($0.owner)/\($0.group)" })")

        let numeric = try Unsquashfs.listing(work.image, numeric: true)
        #expect(numeric.allSatisfy { $0.owner == "0" && $0.group == "0" })
        let superBlock = try SuperBlock(file: work.image)
        #expect(superBlock.idCount == 1, "only id 0 should be in the id table, found \(superBlock.idCount) ids")
    }

    @Test(
        "--keep-owner records the source's uid and gid",
        .enabled(if: Requirements.isRoot, "needs root to chown fixture files to 1234:5678"),
        .enabled(if: Requirements.hasUnsquashfs, "needs unsquashfs (squashfs-tools)")
    )
    func keepOwnerKeepsUidAndGid() throws {
        let work = try Workspace("owner-keep")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        try fixture.chownSamples(uid: 1234, gid: 5678)
        try Ksqsh.squashChecked(fixture.root, work.image, ["--keep-owner"])

        let numeric = try Unsquashfs.listing(work.image, numeric: true)
        let byPath = Dictionary(numeric.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        for sample in FixtureTree.ownedSamples {
            let entry = byPath["/" + sample.string]
            #expect(entry?.owner == "1234" && entry?.group == "5678", "\(sample): \(String(describing: entry))")
        }
        let others = numeric.filter { entry in
            !FixtureTree.ownedSamples.contains { "/" + $0.string == entry.path } && (entry.owner != "0" || entry.group != "0")
        }
        #expect(others.isEmpty, "entries that should stay 0/0: \(others.map { "\($0.path) \($0.owner)/\($0.group)" })")

        // And ksqsh's own verify agrees only when told about --keep-owner.
        expectSuccess(try Ksqsh.verify(work.image, against: fixture.root, ["--keep-owner"]))
        let strict = try Ksqsh.verify(work.image, against: fixture.root)
        #expect(strict.exitCode == Ksqsh.Exit.imageDiffers, "verify without --keep-owner expects uid/gid 0: \(strict)")
    }

    @Test(
        "With --keep-owner the mounted image shows the source's owners exactly",
        .enabled(if: Requirements.isRoot, "needs root for loop mounts"),
        .enabled(if: Mounts.canLoopMount, "needs /dev/loop-control and squashfs support in the kernel")
    )
    func keepOwnerSurvivesMount() throws {
        let work = try Workspace("owner-mount")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        try fixture.chownSamples(uid: 1234, gid: 5678)
        let source = try Manifest.scan(fixture.root)
        try Ksqsh.squashChecked(fixture.root, work.image, ["--keep-owner"])
        let mountPoint = work["mnt"]
        try FS.mkdir(mountPoint)
        let mounted = try Mounts.withImage(work.image, at: mountPoint) { try Manifest.scan(mountPoint) }
        expectTreesMatch(mounted, source, .exact, reader: "the kernel (loop mount, --keep-owner)")
    }
}
