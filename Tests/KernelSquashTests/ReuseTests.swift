import Glibc
import Testing

/// `ksqsh squash --reuse OLD`: an upgrade's image copies the previous
/// image's compressed blocks where they hold the same bytes. The image must
/// not depend on it (the same bytes as a squash without --reuse, whatever
/// OLD is), and OLD's fragment blocks must survive the edits an upgrade
/// makes: boundaries fixed by file names, not by how full a block is.
/// On the kernel skeleton (5,500 files, 25 MB) in 128 KiB blocks: 200
/// fragment blocks, so that an edit's reach can be counted.
@Suite("Squash --reuse", .serialized, .hangGuard)
struct ReuseTests {
    private static let sourceDate = ["SOURCE_DATE_EPOCH": "1700000000"] as [String: String?]
    private static let blockSize: [ByteString] = ["--block-size", "128K"]
    /// What a squash says when a block taken on its xz check failed the verify.
    private static let writtenAgain = "the image was written again, every reused block decompressed and compared"

    /// A squash without --reuse.
    private static func squash(_ source: ByteString, _ image: ByteString, _ options: [ByteString] = []) throws {
        try Ksqsh.squashChecked(source, image, blockSize + options, environment: sourceDate)
    }

    /// A squash with --reuse (and --verify unless told otherwise); its reuse
    /// count and output. One job: then exactly `BlockReuse.probes` matches
    /// are probed, not copied (with more, a match may be probed while the
    /// probes are in flight).
    private static func squash(
        _ tree: ByteString, _ image: ByteString, reusing old: [ByteString], verify: Bool = true
    ) throws -> (ReuseCount, ProcessResult) {
        let options = blockSize + (verify ? ["--verify"] : []) + ["--jobs", "1"] + old.flatMap { ["--reuse", $0] }
        let result = try Ksqsh.squash(tree, image, options, quiet: false, environment: sourceDate)
        guard result.succeeded else { throw TestSetupError("ksqsh squash --reuse failed: \(result)") }
        return (try ReuseCount(result), result)
    }

    /// A copy of the kernel skeleton at `linux/` and its image at `images/old.sqfs`.
    private static func treeAndImage(in work: Workspace) throws -> (tree: ByteString, image: ByteString) {
        let tree = work["linux"]
        try copyTree(KernelSkeleton.kconfig.tree(), to: tree)
        let image = work.imageDirectory / "old.sqfs"
        try squash(tree, image)
        return (tree, image)
    }

    private static func expectIdentical(_ a: ByteString, _ b: ByteString, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let result = try Subprocess.run("cmp", [a, b])
        #expect(result.succeeded, "\(what): the image with --reuse differs from the one without: \(result.stdoutText)", sourceLocation: sourceLocation)
    }

    @Test("The image with --reuse is byte-identical to the one without, and most blocks survive an upgrade's edits", arguments: TreeChange.allCases)
    func identicalAndReused(change: TreeChange) throws {
        let work = try Workspace("reuse-\(change.rawValue)")
        defer { work.remove() }
        let (tree, old) = try Self.treeAndImage(in: work)

        let edited = try change.apply(to: tree)
        let plain = work.imageDirectory / "plain.sqfs"
        let reused = work.imageDirectory / "reused.sqfs"
        try Self.squash(tree, plain)
        let (count, result) = try Self.squash(tree, reused, reusing: [old])
        try Self.expectIdentical(plain, reused, "\(change)")
        print("\(change): \(edited) files changed, \(count)")
        // Blocks taken on their xz check all held the bytes: no second squash.
        #expect(!result.stderrText.contains(Self.writtenAgain), "\(result)")

        // The first matches of an image are compressed anyway, to prove it
        // was written by this encoder (BlockReuse.probes).
        let probes = 2
        switch change {
        case .nothing:
            #expect(count.reused == count.stored - probes, "\(count)")
        case .oneFileGrown:
            // Its own fragment block changes and a few after it, until the
            // cuts fall in step again; with blocks filled to the brim, every
            // block after it (about half of them) would.
            #expect(count.stored - probes - count.reused <= 8, "\(count)")
        case .pointRelease:
            // 12 places in the tree: most blocks between them stay.
            #expect(count.reused >= count.stored / 2, "\(edited) files changed: \(count)")
        case .renamedDirectory:
            // Its blocks are found by file name and size; the blocks where it
            // left and where it arrives are new.
            #expect(count.stored - probes - count.reused <= 6, "\(count)")
        case .everyFile:
            #expect(count.reused == 0, "\(count)")
        }
    }

    @Test("A tarball squashed with --reuse gives the same image as without, and reuses the tree image's blocks")
    func tarball() throws {
        let work = try Workspace("reuse-tarball")
        defer { work.remove() }
        let tree = work["linux"]
        try copyTree(KernelSkeleton.kconfig.tree(), to: tree)
        let tarball = work["linux.tar"]
        func archive() throws { try Subprocess.runChecked("tar", ["-cf", tarball, "--sort=name", "-C", work.path, "linux"]) }
        try archive()
        let old = work.imageDirectory / "old.sqfs"
        try Self.squash(tarball, old)
        try TreeChange.pointRelease.apply(to: tree)
        try archive()

        let plain = work.imageDirectory / "plain.sqfs"
        let reused = work.imageDirectory / "reused.sqfs"
        try Self.squash(tarball, plain)
        let (count, _) = try Self.squash(tarball, reused, reusing: [old])
        try Self.expectIdentical(plain, reused, "tarball")
        #expect(count.reused >= count.stored / 2, "\(count)")
    }

    @Test("A damaged, truncated or foreign OLD is not reused, never an error; the image is the same")
    func damagedImages() throws {
        let work = try Workspace("reuse-damaged")
        defer { work.remove() }
        let (tree, old) = try Self.treeAndImage(in: work)
        let plain = work.imageDirectory / "plain.sqfs"
        try FS.writeFile(plain, try FS.readFile(old))

        // Four fragment blocks damaged in their middle, their xz checks
        // intact: without a verify to follow, each fails to decompress and
        // is compressed again; with one, each is taken on its check, the
        // verify fails, and the image is written again, decompressing.
        var image = try FS.readFile(old)
        let table = try RawFragmentTable(image)
        let damaged = [1, 5, 9, 13].map { table.entries[$0] }
        for entry in damaged {
            let middle = entry.start + entry.storedBytes / 2
            image.replaceSubrange(middle..<middle + 32, with: Array(repeating: 0x5A, count: 32))
        }
        let damagedImage = work.imageDirectory / "damaged.sqfs"
        try FS.writeFile(damagedImage, image)
        let truncated = work.imageDirectory / "truncated.sqfs"
        try FS.writeFile(truncated, Array(image.prefix(image.count / 2)))
        let garbage = work.imageDirectory / "garbage.sqfs"
        try FS.writeFile(garbage, (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) })
        let missing = work.imageDirectory / "missing.sqfs"

        let reused = work.imageDirectory / "reused.sqfs"
        for verify in [false, true] {
            if FS.exists(reused) { try FS.unlink(reused) }
            let (count, result) = try Self.squash(tree, reused, reusing: [damagedImage, truncated, garbage, missing], verify: verify)
            try Self.expectIdentical(plain, reused, "damaged OLD, verify \(verify)")
            #expect(count.reused == count.stored - 2 - damaged.count, "\(count)")
            for name in ["truncated.sqfs", "garbage.sqfs", "missing.sqfs"] {
                #expect(result.stderrText.contains("warning: not reusing \(work.imageDirectory.string)/\(name)"), "\(result)")
            }
            #expect(!result.stderrText.contains("damaged.sqfs"), "\(result)")
            #expect(result.stderrText.contains(Self.writtenAgain) == verify, "verify \(verify): \(result)")
        }
    }

    @Test("An image whose blocks another encoder wrote (same content, other bytes) is probed, found foreign and not copied from")
    func foreignEncoder() throws {
        let work = try Workspace("reuse-foreign")
        defer { work.remove() }
        let (tree, old) = try Self.treeAndImage(in: work)

        // Every compressed fragment block re-encoded by the xz tool into a
        // stream of the same length and content but other bytes: without
        // the sizes in its block header (4 bytes less) and with a CRC64
        // instead of a CRC32 (4 bytes more). Nothing else in the image changes.
        var image = try FS.readFile(old)
        var reencoded = 0
        for entry in try RawFragmentTable(image).entries where entry.isCompressed {
            let stored = Array(image[entry.start..<entry.start + entry.storedBytes])
            try FS.writeFile(work["block.xz"], stored)
            try FS.writeFile(work["block"], try Subprocess.runChecked("xz", ["-dc", work["block.xz"]]).stdout)
            let foreign = try Subprocess.runChecked("xz", ["-c", "--check=crc64", "--lzma2=preset=6,dict=128KiB", work["block"]]).stdout
            guard foreign.count == stored.count, foreign != stored else { continue }
            RawFragmentTable.replace(entry, with: foreign, compressed: true, in: &image)
            reencoded += 1
        }
        try #require(reencoded > 10, "too few fragment blocks could be re-encoded: \(reencoded)")
        let foreignImage = work.imageDirectory / "foreign.sqfs"
        try FS.writeFile(foreignImage, image)
        expectSuccess(try Ksqsh.verify(foreignImage, against: tree))

        let plain = work.imageDirectory / "plain.sqfs"
        try FS.writeFile(plain, try FS.readFile(old))
        let reused = work.imageDirectory / "reused.sqfs"
        let (count, result) = try Self.squash(tree, reused, reusing: [foreignImage])
        try Self.expectIdentical(plain, reused, "foreign OLD")
        #expect(count.reused == 0, "\(count)")
        #expect(result.stderrText.contains("compressed differently"), "\(result)")
    }

    @Test("--reuse DIR tries the *.sqfs images in it; other settings are refused by name")
    func directoryAndSettings() throws {
        let work = try Workspace("reuse-directory")
        defer { work.remove() }
        let tree = work["linux"]
        try copyTree(KernelSkeleton.kconfig.tree(), to: tree)
        let images = work["earlier"]
        try FS.mkdir(images)
        try Self.squash(tree, images / "linux-1.sqfs")
        try Self.squash(tree, images / "linux-zstd.sqfs", ["--compression", "zstd"])
        try Ksqsh.squashChecked(tree, images / "linux-64k.sqfs", ["--block-size", "64K"], environment: Self.sourceDate)
        try FS.writeFile(images / "notes.txt", Array("not an image\n".utf8))

        let reused = work.imageDirectory / "reused.sqfs"
        let (count, result) = try Self.squash(tree, reused, reusing: [images])
        try Self.expectIdentical(images / "linux-1.sqfs", reused, "--reuse DIR")
        #expect(count.reused == count.stored - 2, "\(count)")
        #expect(result.stderrText.contains("linux-zstd.sqfs: it is compressed with zstd, this image with xz"), "\(result)")
        #expect(result.stderrText.contains("linux-64k.sqfs: its block size is 65536, this image's 131072"), "\(result)")
        #expect(!result.stderrText.contains("notes.txt"), "\(result)")
    }
}
