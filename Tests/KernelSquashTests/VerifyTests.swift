import Glibc
import Testing

/// `ksqsh verify IMAGE [SRC]`: passes on a good image, and catches every kind
/// of damage to the image and every kind of difference from SRC.
@Suite("ksqsh verify", .serialized, .hangGuard)
struct VerifyTests {
    /// A small squashed fixture; each test damages its own copy.
    struct Squashed {
        let work: Workspace
        let fixture: FixtureTree
        let image: ByteString

        init(_ label: String, large: Bool = false, options: [ByteString] = []) throws {
            work = try Workspace(label)
            do {
                fixture = try work.buildFixture(large: large)
                image = work.image
                try Ksqsh.squashChecked(fixture.root, image, options)
            } catch {
                work.remove()
                throw error
            }
        }

        func remove() { work.remove() }

        /// A copy of the image with `edit` applied, next to it.
        func damagedCopy(_ name: ByteString, _ edit: (inout [UInt8]) throws -> Void) throws -> ByteString {
            var bytes = try FS.readFile(image)
            try edit(&bytes)
            let copy = work.imageDirectory / name
            try FS.writeFile(copy, bytes)
            return copy
        }
    }

    @Test("A good image passes, alone and against its source")
    func goodImagePasses() throws {
        let squashed = try Squashed("verify-good", large: true)
        defer { squashed.remove() }
        expectSuccess(try Ksqsh.verify(squashed.image))
        expectSuccess(try Ksqsh.verify(squashed.image, against: squashed.fixture.root))
        expectSuccess(try Ksqsh.verify(squashed.image, against: squashed.fixture.root, ["--jobs", "1"]))
        let loud = try Ksqsh.verify(squashed.image, against: squashed.fixture.root, quiet: false)
        expectSuccess(loud)
    }

    @Test("A flipped byte in a compressed data block is corruption (41)")
    func flippedByteInCompressedDataBlock() throws {
        // One compressible multi-block file: the image's data area starts
        // right after the super block with its first xz-compressed block.
        let work = try Workspace("verify-data")
        defer { work.remove() }
        let source = work.source
        try FS.mkdir(source)
        try FS.writeFile(source / "text", Content.text(3 << 20, seed: 77))
        try Ksqsh.squashChecked(source, work.image)
        let original = try FS.readFile(work.image)
        let superBlock = try SuperBlock(original)
        let xzMagic: [UInt8] = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]
        let blockStart = original.firstIndex(of: xzMagic, from: SuperBlock.size) ?? SuperBlock.size
        let target = blockStart + 64
        try #require(UInt64(target) < superBlock.inodeTableStart, "the first data block must lie before the inode table (\(superBlock.inodeTableStart))")

        var damaged = original
        damaged[target] ^= 0x55
        let copy = work.imageDirectory / "damaged.sqfs"
        try FS.writeFile(copy, damaged)

        let alone = try Ksqsh.verify(copy)
        #expect(alone.exitCode == Ksqsh.Exit.imageCorrupt, "byte \(target) flipped inside an xz block: \(alone)")
        expectReport(alone, headlineNaming: copy, listing: "text")
        let withSource = try Ksqsh.verify(copy, against: source)
        #expect([Ksqsh.Exit.imageCorrupt, Ksqsh.Exit.imageDiffers].contains(withSource.exitCode ?? -1), "\(withSource)")
    }

    @Test("A flipped byte in an uncompressed data block (incompressible file) is a difference from SRC (41 or 42)")
    func flippedByteInStoredDataBlock() throws {
        let squashed = try Squashed("verify-random", large: true)
        defer { squashed.remove() }
        // Random data does not compress: its first 4 KiB appear verbatim in the image.
        let random = Content.random(FixtureTree.randomFileSize, seed: FixtureTree.randomSeed)
        let copy = try squashed.damagedCopy("damaged.sqfs") { bytes in
            let found = try #require(bytes.firstIndex(of: Array(random[0..<4096])), "the random file's first block should be stored uncompressed")
            bytes[found + 1000] ^= 0x01
        }
        let result = try Ksqsh.verify(copy, against: squashed.fixture.root)
        #expect(
            [Ksqsh.Exit.imageCorrupt, Ksqsh.Exit.imageDiffers].contains(result.exitCode ?? -1),
            "a changed byte of \(FixtureTree.randomFile) must be found: \(result)"
        )
        #expect(result.stderrText.contains(FixtureTree.randomFile.string), "stderr should name \(FixtureTree.randomFile): \(result)")
    }

    /// Flips a byte inside the first metadata block of the table at `offset`.
    private func flipInsideMetadataBlock(_ table: String, startOffset: Int) throws {
        let squashed = try Squashed("verify-\(table)")
        defer { squashed.remove() }
        var compressed = true
        let copy = try squashed.damagedCopy("damaged.sqfs") { bytes in
            let start = Int(SuperBlock.u64(bytes, startOffset))
            let header = MetadataBlockHeader(bytes, at: start)
            compressed = header.compressed
            try #require(header.size > 8, "\(table) table's first block is only \(header.size) bytes")
            bytes[start + 2 + header.size / 2] ^= 0xff
        }
        let alone = try Ksqsh.verify(copy)
        if compressed {
            #expect(alone.exitCode == Ksqsh.Exit.imageCorrupt, "flipped byte in the compressed \(table) table: \(alone)")
            expectReport(alone, headlineNaming: copy)
        }
        let withSource = try Ksqsh.verify(copy, against: squashed.fixture.root)
        #expect(
            [Ksqsh.Exit.imageCorrupt, Ksqsh.Exit.imageDiffers].contains(withSource.exitCode ?? -1),
            "flipped byte in the \(table) table, verified against SRC: \(withSource)"
        )
    }

    @Test("A flipped byte in the inode table is corruption (41)")
    func flippedByteInInodeTable() throws {
        try flipInsideMetadataBlock("inode", startOffset: SuperBlock.inodeTableStartOffset)
    }

    @Test("A flipped byte in the directory table is corruption (41)")
    func flippedByteInDirectoryTable() throws {
        try flipInsideMetadataBlock("directory", startOffset: SuperBlock.directoryTableStartOffset)
    }

    @Test("A flipped byte in the last table before bytes_used is detected")
    func flippedByteNearTheEnd() throws {
        let squashed = try Squashed("verify-tail")
        defer { squashed.remove() }
        let copy = try squashed.damagedCopy("damaged.sqfs") { bytes in
            let superBlock = try SuperBlock(bytes)
            // The id table's one metadata block is what the lookup table at
            // id_table_start points to; damage the block itself.
            let idBlock = Int(SuperBlock.u64(bytes, Int(superBlock.idTableStart)))
            let header = MetadataBlockHeader(bytes, at: idBlock)
            try #require(idBlock + 2 + header.size <= Int(superBlock.bytesUsed))
            // Uncompressed or compressed, a changed id breaks ownership 0/0.
            if header.compressed {
                bytes[idBlock + 2 + header.size / 2] ^= 0xff
            } else {
                bytes[idBlock + 2] ^= 0x01
            }
        }
        let result = try Ksqsh.verify(copy, against: squashed.fixture.root)
        #expect([Ksqsh.Exit.imageCorrupt, Ksqsh.Exit.imageDiffers].contains(result.exitCode ?? -1), "damaged id table: \(result)")
    }

    @Test("A damaged super block or a truncated image is unreadable (40)")
    func damagedSuperBlock() throws {
        let squashed = try Squashed("verify-super")
        defer { squashed.remove() }
        let badMagic = try squashed.damagedCopy("bad-magic.sqfs") { $0[0] ^= 0xff }
        let tooLong = try squashed.damagedCopy("bytes-used.sqfs") { bytes in
            let used = SuperBlock.u64(bytes, SuperBlock.bytesUsedOffset)
            SuperBlock.store(used + 1 << 20, into: &bytes, at: SuperBlock.bytesUsedOffset)
        }
        let truncated = try squashed.damagedCopy("truncated.sqfs") { bytes in
            let superBlock = try SuperBlock(bytes)
            bytes = Array(bytes[0..<Int(superBlock.inodeTableStart) + 10])
        }
        let empty = try squashed.damagedCopy("empty.sqfs") { $0 = [] }
        let notSquashfs = try squashed.damagedCopy("text.sqfs") { $0 = Content.text(100_000, seed: 5) }

        for (image, what, codes) in [
            (badMagic, "bad magic", [Ksqsh.Exit.imageUnreadable]),
            (tooLong, "bytes_used beyond the end of the file", [Ksqsh.Exit.imageUnreadable, Ksqsh.Exit.imageCorrupt]),
            (truncated, "truncated inside the inode table", [Ksqsh.Exit.imageUnreadable]),
            (empty, "empty file", [Ksqsh.Exit.imageUnreadable]),
            (notSquashfs, "not squashfs at all", [Ksqsh.Exit.imageUnreadable]),
        ] {
            let result = try Ksqsh.verify(image)
            #expect(codes.contains(result.exitCode ?? -1), "\(what): \(result)")
            #expect(result.stderrLines.count == 1 && result.stderr.firstIndex(of: image.bytes) != nil, "\(what): one line naming the image: \(result)")
            let withSource = try Ksqsh.verify(image, against: squashed.fixture.root)
            #expect(codes.contains(withSource.exitCode ?? -1), "\(what), with SRC: \(withSource)")
        }
    }

    @Test("A missing IMAGE is unreadable (40)")
    func missingImage() throws {
        let work = try Workspace("verify-missing")
        defer { work.remove() }
        let result = try Ksqsh.verify(work.image)
        #expect(result.exitCode == Ksqsh.Exit.imageUnreadable, "\(result)")
        #expect(result.stderrLines.count == 1 && result.stderr.firstIndex(of: work.image.bytes) != nil, "\(result)")
    }

    /// Changes SRC after squashing and expects verify to report 42 naming `path`.
    private func expectDifference(
        _ label: String, naming path: ByteString, options: [ByteString] = [],
        sourceLocation: SourceLocation = #_sourceLocation, _ change: (FixtureTree) throws -> Void
    ) throws {
        let squashed = try Squashed("verify-\(label)")
        defer { squashed.remove() }
        try change(squashed.fixture)
        let result = try Ksqsh.verify(squashed.image, against: squashed.fixture.root, options)
        #expect(result.exitCode == Ksqsh.Exit.imageDiffers, "\(label): \(result)", sourceLocation: sourceLocation)
        expectReport(result, headlineNaming: squashed.image, listing: path, sourceLocation: sourceLocation)
        // The image itself is fine.
        expectSuccess(try Ksqsh.verify(squashed.image), sourceLocation: sourceLocation)
    }

    @Test("A file missing from SRC is a difference (42)")
    func fileMissingFromSource() throws {
        try expectDifference("missing", naming: "sizes/4095") { fixture in
            try keepingParentMtime(fixture["sizes/4095"]) { try FS.unlink(fixture["sizes/4095"]) }
        }
    }

    @Test("An extra file in SRC is a difference (42)")
    func extraFileInSource() throws {
        try expectDifference("extra", naming: "sizes/new-file") { fixture in
            try keepingParentMtime(fixture["sizes/new-file"]) { try FS.writeFile(fixture["sizes/new-file"], Array("new".utf8)) }
        }
    }

    @Test("An extra empty directory in SRC is a difference (42)")
    func extraDirectoryInSource() throws {
        try expectDifference("extra-dir", naming: "empty/new-dir") { fixture in
            try keepingParentMtime(fixture["empty/new-dir"]) { try FS.mkdir(fixture["empty/new-dir"]) }
        }
    }

    @Test("A changed mtime is a difference (42)")
    func changedMtime() throws {
        try expectDifference("mtime", naming: "sizes/4096") { try FS.setModificationTime($0["sizes/4096"], seconds: 1_234_567) }
    }

    @Test("A changed directory mtime is a difference (42)")
    func changedDirectoryMtime() throws {
        try expectDifference("dir-mtime", naming: "modes/d0750") { try FS.setModificationTime($0["modes/d0750"], seconds: 7_654_321) }
    }

    @Test("A changed mode is a difference (42)")
    func changedMode() throws {
        try expectDifference("mode", naming: "modes/m0644") { try FS.chmod($0["modes/m0644"], 0o664) }
    }

    @Test("A lost setuid bit is a difference (42)")
    func lostSetuid() throws {
        try expectDifference("setuid", naming: "modes/m4755-setuid") { try FS.chmod($0["modes/m4755-setuid"], 0o755) }
    }

    @Test("A changed symlink target is a difference (42)")
    func changedSymlinkTarget() throws {
        try expectDifference("symlink", naming: FixtureTree.symlinkRelative) { fixture in
            let link = fixture[FixtureTree.symlinkRelative]
            let mtime = try FS.lstat(link).st_mtim.tv_sec
            try keepingParentMtime(link) {
                try FS.unlink(link)
                try FS.symlink(target: "../sizes/4096", at: link)
            }
            try FS.setModificationTime(link, seconds: mtime)
        }
    }

    @Test("Changed content with the same size and mtime is a difference (42)")
    func changedContentSameSizeAndTime() throws {
        try expectDifference("content", naming: "sizes/4097") { fixture in
            let path = fixture["sizes/4097"]
            let mtime = try FS.lstat(path).st_mtim.tv_sec
            var bytes = try FS.readFile(path)
            bytes[2048] ^= 0x20
            try FS.writeFile(path, bytes)
            try FS.setModificationTime(path, seconds: mtime)
        }
    }

    @Test("A hard link broken into two files with equal content is a difference (42)")
    func brokenHardLink() throws {
        try expectDifference("hardlink", naming: "hardlinks/pair-") { fixture in
            let path = fixture[FixtureTree.hardLinkPair[1]]
            let st = try FS.lstat(path)
            let bytes = try FS.readFile(path)
            try keepingParentMtime(path) {
                try FS.unlink(path)
                try FS.writeFile(path, bytes)
                try FS.chmod(path, mode_t(st.st_mode & 0o7777))
            }
            try FS.setModificationTime(path, seconds: st.st_mtim.tv_sec)
        }
    }

    @Test("A FIFO replaced by an empty file is a difference (42)")
    func fifoBecameFile() throws {
        try expectDifference("fifo", naming: FixtureTree.fifo) { fixture in
            let path = fixture[FixtureTree.fifo]
            let st = try FS.lstat(path)
            try keepingParentMtime(path) {
                try FS.unlink(path)
                try FS.writeFile(path, [])
                try FS.chmod(path, mode_t(st.st_mode & 0o7777))
            }
            try FS.setModificationTime(path, seconds: st.st_mtim.tv_sec)
        }
    }

    @Test(
        "Ownership in SRC is ignored by default but compared with --keep-owner",
        .enabled(if: Requirements.isRoot, "needs root to chown")
    )
    func ownershipComparison() throws {
        let squashed = try Squashed("verify-owner")
        defer { squashed.remove() }
        try squashed.fixture.chownSamples(uid: 1234, gid: 5678)
        // Default image: all 0/0, which is what verify expects without --keep-owner.
        expectSuccess(try Ksqsh.verify(squashed.image, against: squashed.fixture.root))
        let kept = try Ksqsh.verify(squashed.image, against: squashed.fixture.root, ["--keep-owner"])
        #expect(kept.exitCode == Ksqsh.Exit.imageDiffers, "--keep-owner: SRC's 1234:5678 differ from the image's 0:0: \(kept)")
    }
}

/// Runs `body` (which adds or removes `path`) and puts the parent
/// directory's mtime back, so the only difference is the one intended.
func keepingParentMtime(_ path: ByteString, _ body: () throws -> Void) throws {
    let mtime = try FS.lstat(path.parent).st_mtim.tv_sec
    try body()
    try FS.setModificationTime(path.parent, seconds: mtime)
}
