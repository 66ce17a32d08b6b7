import Glibc
import Testing

/// The kernel reads a file's fragment entry and its owner's ids with every
/// inode, through a small metadata cache: ksqsh stores those two tables
/// uncompressed, so a refetch is a copy rather than a decompression.
@Suite("Lookup tables stored raw", .enabled(if: Requirements.isRoot, "needs root to give files 200 owners"))
struct RawTablesTests {
    @Test("fragment and id table blocks are uncompressed, though xz would shrink them; inodes stay compressed")
    func fragmentAndIdTablesRaw() throws {
        let work = try Workspace("raw-tables")
        defer { work.remove() }
        try FS.mkdirs(work.source)
        // 4 KiB blocks: each 3 KB file fills a fragment block of its own,
        // so 600 files make a fragment table of 9.6 KB in two metadata
        // blocks, and 200 owners an id table of 800 bytes: both regular
        // enough (ascending offsets and ids) for xz to shrink.
        for number in 0..<600 {
            let path = work.source / ByteString("file\(number)")
            try FS.writeFile(path, Content.text(3000, seed: 4000 + UInt64(number)))
            let owner = uid_t(2000 + number % 200)
            try FS.lchown(path, uid: owner, gid: owner)
        }
        try Ksqsh.squashChecked(work.source, work.image, ["--block-size", "4K", "--keep-owner"])

        let image = try FS.readFile(work.image)
        let superBlock = try SuperBlock(image)
        #expect(superBlock.fragmentCount == 600)
        #expect(superBlock.idCount >= 200)
        let fragmentBlocks = (Int(superBlock.fragmentCount) + 511) / 512
        let idBlocks = (Int(superBlock.idCount) + 2047) / 2048
        for (table, start, count) in [("fragment", superBlock.fragmentTableStart, fragmentBlocks), ("id", superBlock.idTableStart, idBlocks)] {
            for index in 0..<count {
                let block = Int(SuperBlock.u64(image, Int(start) + 8 * index))
                let header = MetadataBlockHeader(image, at: block)
                #expect(!header.compressed, "\(table) table block \(index) at \(block) is compressed (\(header.size) bytes)")
            }
        }
        #expect(MetadataBlockHeader(image, at: Int(superBlock.inodeTableStart)).compressed, "the inode table should stay compressed")
        expectSuccess(try Ksqsh.verify(work.image, against: work.source, ["--keep-owner"]))
    }
}
