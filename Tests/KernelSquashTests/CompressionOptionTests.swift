import Testing

/// Compressor and block size: the defaults match mksquashfs's
/// `-comp xz -b 1M -Xdict-size 100%`, and every option gives a readable image.
@Suite("Compression and block size", .serialized, .hangGuard)
struct CompressionOptionTests {
    @Test(
        "Defaults are xz with 1 MiB blocks, described like mksquashfs -comp xz -b 1M -Xdict-size 100%",
        .enabled(if: Requirements.hasUnsquashfs && Requirements.hasMksquashfs, "needs unsquashfs and mksquashfs (squashfs-tools)")
    )
    func defaultsMatchMksquashfs() throws {
        let work = try Workspace("defaults")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        try Ksqsh.squashChecked(fixture.root, work.image)

        let superBlock = try SuperBlock(file: work.image)
        #expect(superBlock.magic == SuperBlock.magic)
        #expect(superBlock.versionMajor == 4 && superBlock.versionMinor == 0)
        #expect(superBlock.compressionID == 4, "compressor id \(superBlock.compressionID) is not xz (4)")
        #expect(superBlock.blockSize == 1 << 20)
        #expect(superBlock.blockLog == 20)

        let ours = try Unsquashfs.superBlockReport(work.image)
        #expect(ours.contains("Compression xz"), "\(ours)")
        #expect(ours.contains("Block size 1048576"), "\(ours)")

        let reference = work["mksquashfs.img"]
        try Subprocess.runChecked("mksquashfs", [
            fixture.root, reference, "-comp", "xz", "-b", "1M", "-Xdict-size", "100%",
            "-noappend", "-no-progress", "-quiet", "-processors", "2",
        ])
        let theirs = try Unsquashfs.superBlockReport(reference)
        #expect(
            Unsquashfs.compressionLines(ours) == Unsquashfs.compressionLines(theirs),
            "unsquashfs -s differs from mksquashfs's: ksqsh \(Unsquashfs.compressionLines(ours)), mksquashfs \(Unsquashfs.compressionLines(theirs))"
        )
    }

    @Test(
        "--block-size 128K gives 128 KiB blocks and a correct image",
        .enabled(if: Requirements.hasUnsquashfs, "needs unsquashfs (squashfs-tools)")
    )
    func blockSize128K() throws {
        let work = try Workspace("block-128k")
        defer { work.remove() }
        let fixture = try work.buildFixture()
        let source = try Manifest.scan(fixture.root)
        try Ksqsh.squashChecked(fixture.root, work.image, ["--block-size", "128K"])
        let superBlock = try SuperBlock(file: work.image)
        #expect(superBlock.blockSize == 131_072 && superBlock.blockLog == 17)
        #expect(try Unsquashfs.superBlockReport(work.image).contains("Block size 131072"))
        try Unsquashfs.extract(work.image, to: work["out"])
        expectTreesMatch(try Manifest.scan(work["out"]), source, .init(ownership: IndependentReaderTests.defaultOwnership), reader: "unsquashfs")
        expectSuccess(try Ksqsh.verify(work.image, against: fixture.root))
    }

    @Test(
        "Block sizes in bytes or with a K/M suffix are accepted",
        arguments: [("4K", 4096), ("4096", 4096), ("64K", 65_536), ("131072", 131_072), ("512K", 524_288), ("1M", 1_048_576)]
    )
    func blockSizeSpellings(_ spelling: String, _ bytes: Int) throws {
        let work = try Workspace("block-spelling")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        try Ksqsh.squashChecked(fixture.root, work.image, ["--block-size", ByteString(spelling)])
        let superBlock = try SuperBlock(file: work.image)
        #expect(Int(superBlock.blockSize) == bytes, "--block-size \(spelling)")
        #expect(1 << Int(superBlock.blockLog) == bytes)
        expectSuccess(try Ksqsh.verify(work.image, against: fixture.root))
    }

    @Test(
        "Block sizes that squashfs cannot use are usage errors (64) and create nothing",
        arguments: ["2K", "3K", "5000", "2M", "0", "-4K", "abc", "1G", "1.5M", ""]
    )
    func invalidBlockSizes(_ spelling: String) throws {
        let work = try Workspace("block-invalid")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let before = try Manifest.scan(fixture.root)
        let result = try Ksqsh.squash(fixture.root, work.image, ["--block-size", ByteString(spelling)])
        #expect(result.exitCode == Ksqsh.Exit.usage, "--block-size '\(spelling)': \(result)")
        #expect(!FS.exists(work.image))
        #expect(try FS.list(work.imageDirectory).isEmpty)
        expectUnchanged(fixture.root, before: before)
    }

    @Test(
        "Each compressor libsquashfs can create gives an image unsquashfs reads; the others exit 30",
        .enabled(if: Requirements.hasUnsquashfs, "needs unsquashfs (squashfs-tools)"),
        arguments: ["xz", "zstd", "gzip", "lz4", "lzo"]
    )
    func compressors(_ name: String) throws {
        let work = try Workspace("comp-\(name)")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let source = try Manifest.scan(fixture.root)
        let result = try Ksqsh.squash(fixture.root, work.image, ["--compression", ByteString(name), "--block-size", "128K"])

        // The oracle: whether libsquashfs itself can create this compressor.
        if LibSquashFSProbe.canCompress(name) {
            expectSuccess(result)
            guard result.succeeded else { return }
            let superBlock = try SuperBlock(file: work.image)
            #expect(SuperBlock.compressionNames[superBlock.compressionID] == name, "super block compressor id \(superBlock.compressionID)")
            #expect(try Unsquashfs.superBlockReport(work.image).contains("Compression \(name)"))
            let ownership = IndependentReaderTests.defaultOwnership

            let unsquashfs = try Subprocess.run("unsquashfs", ["-no-progress", "-d", work["unsquashfs-out"], work.image])
            #expect(unsquashfs.succeeded, "unsquashfs cannot read the \(name) image: \(unsquashfs)")
            if unsquashfs.succeeded {
                expectTreesMatch(try Manifest.scan(work["unsquashfs-out"]), source, .init(ownership: ownership), reader: "unsquashfs (\(name))")
            }
            if Requirements.hasRdsquashfs {
                try Rdsquashfs.extract(work.image, to: work["rdsquashfs-out"])
                expectTreesMatch(
                    try Manifest.scan(work["rdsquashfs-out"]), source, .init(ownership: ownership, root: false, linkGroups: false),
                    reader: "rdsquashfs (\(name))"
                )
            }
            if Requirements.isRoot, Mounts.canLoopMount {
                let mountPoint = work["mnt"]
                try FS.mkdir(mountPoint)
                let mounted = try Mounts.withImage(work.image, at: mountPoint) { try Manifest.scan(mountPoint) }
                expectTreesMatch(mounted, source, .init(ownership: .root), reader: "the kernel (\(name))")
            }
            expectSuccess(try Ksqsh.verify(work.image, against: fixture.root))
        } else {
            expectCleanFailure(
                result, exit: Ksqsh.Exit.unsupportedCompression, naming: ByteString(name), image: work.image,
                imageDirectoryBefore: [], source: fixture.root, sourceBefore: source
            )
        }
    }

    @Test("A contract compressor libsquashfs lacks (lzo in libsquashfs 1.2) exits 30 with one line naming it")
    func unsupportedKnownCompressor() throws {
        guard let missing = ["xz", "zstd", "gzip", "lz4", "lzo"].first(where: { !LibSquashFSProbe.canCompress($0) }) else {
            try Test.cancel("libsquashfs here supports all of xz, zstd, gzip, lz4 and lzo: no compressor to refuse")
        }
        let work = try Workspace("comp-missing")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let before = try Manifest.scan(fixture.root)
        let result = try Ksqsh.squash(fixture.root, work.image, ["--compression", ByteString(missing)])
        expectCleanFailure(
            result, exit: Ksqsh.Exit.unsupportedCompression, naming: ByteString(missing), image: work.image,
            imageDirectoryBefore: [], source: fixture.root, sourceBefore: before
        )
    }
}
