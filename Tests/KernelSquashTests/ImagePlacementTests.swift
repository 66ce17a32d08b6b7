import Testing

/// Where a kernel-layout image puts what a build reads again and again:
/// tails in small fragment blocks, inodes in data order before the
/// directories. Read back with rdsquashfs, independently of ksqsh.
@Suite(
    "Placement in kernel-layout images", .serialized,
    .enabled(if: Requirements.hasRdsquashfs, "needs rdsquashfs (squashfs-tools-ng) to read inodes")
)
struct ImagePlacementTests {
    /// A tree `DataLayout.automatic` takes for kernel sources: four kbuild
    /// files and four others of 120 KB each, all stored as fragment tails.
    static let kbuild: [ByteString] = ["Makefile", "arch/x86/Makefile", "scripts/Kbuild.include", "scripts/Makefile.build"]
    static let rest: [ByteString] = ["drivers/a.c", "drivers/b.c", "drivers/c.c", "kernel/fork.c"]
    static let directories: [ByteString] = ["arch", "arch/x86", "drivers", "kernel", "scripts"]
    static let fileSize = 120_000

    private static func squashKernelLikeTree(_ work: Workspace) throws {
        for directory in directories { try FS.mkdirs(work.source / directory) }
        try FS.writeFile(work.source / "Kconfig", Array("mainmenu \"test\"\n".utf8))
        for (number, path) in (kbuild + rest).enumerated() {
            try FS.writeFile(work.source / path, Content.text(fileSize, seed: 900 + UInt64(number)))
        }
        try Ksqsh.squashChecked(work.source, work.image)
    }

    /// What `DataLayout.automatic` takes for kernel sources, with the
    /// directories of asm-offsets.c and the headers it includes.
    private static func makeKernelSkeleton(_ work: Workspace) throws {
        for directory: ByteString in ["arch/x86/kernel", "include/linux", "kernel", "scripts"] { try FS.mkdirs(work.source / directory) }
        try FS.writeFile(work.source / "Kconfig", Array("mainmenu \"test\"\n".utf8))
        try FS.writeFile(work.source / "Makefile", Array("all:\n".utf8))
    }

    private struct Tail {
        let fragment: String
        let end: Int
    }

    private static func tail(_ path: ByteString, in image: ByteString) throws -> Tail {
        let fields = try Rdsquashfs.stat(image, path)
        let offset = try #require(fields["Fragment offset"].flatMap { Int($0) }, "\(path): \(fields)")
        let size = try #require(fields["File size"].flatMap { Int($0) }, "\(path): \(fields)")
        return Tail(fragment: fields["Fragment index"] ?? "?", end: offset + size)
    }

    /// The tails of `small` (four files of 120 KB) end within 256 KiB of
    /// their fragment blocks, two of them; those of `usual` (four more)
    /// share one other, usual-sized block.
    private static func expectSmallBlocks(for small: [ByteString], usualBlock usual: [ByteString], in image: ByteString) throws {
        let smallTails = try small.map { try tail($0, in: image) }
        let usualTails = try usual.map { try tail($0, in: image) }
        for (path, tail) in zip(small, smallTails) {
            #expect(tail.end <= 256 * 1024, "\(path) ends at byte \(tail.end) of fragment \(tail.fragment)")
        }
        #expect(Set(smallTails.map(\.fragment)).count == 2, "480 KB of tails need two small blocks: \(smallTails)")
        #expect(Set(usualTails.map(\.fragment)).count == 1, "the other 480 KB share one block: \(usualTails)")
        #expect(Set(smallTails.map(\.fragment)).isDisjoint(with: usualTails.map(\.fragment)))
    }

    @Test("kbuild tails share fragment blocks of at most 256 KiB; other tails fill the usual 1 MiB blocks")
    func smallFragmentBlocks() throws {
        let work = try Workspace("placement-fragments")
        defer { work.remove() }
        try Self.squashKernelLikeTree(work)
        try Self.expectSmallBlocks(for: Self.kbuild, usualBlock: Self.rest, in: work.image)
        expectSuccess(try Ksqsh.verify(work.image, against: work.source))
    }

    @Test("from a tarball too, the headers asm-offsets.c reaches get small fragment blocks, others the usual ones")
    func tarballPlacement() throws {
        let work = try Workspace("placement-tarball")
        defer { work.remove() }
        try Self.makeKernelSkeleton(work)
        let reached: [ByteString] = ["include/linux/a.h", "include/linux/c.h", "include/linux/e.h", "include/linux/g.h"]
        let unreached: [ByteString] = ["include/linux/b.h", "include/linux/d.h", "include/linux/f.h", "include/linux/h.h"]
        let includes = reached.map { "#include <\(String(decoding: $0.bytes.dropFirst("include/".count), as: UTF8.self))>\n" }
        try FS.writeFile(work.source / "arch/x86/kernel/asm-offsets.c", Array(includes.joined().utf8))
        for (number, path) in (reached + unreached).enumerated() {
            try FS.writeFile(work.source / path, Content.text(Self.fileSize, seed: 950 + UInt64(number)))
        }
        let tarball = work["tree.tar"]
        try Subprocess.runChecked("tar", ["-C", work.source, "-c", "-f", tarball, "."])
        try Ksqsh.squashChecked(tarball, work.image)

        // The archive interleaves them by name; only #include lines tell them apart.
        try Self.expectSmallBlocks(for: reached, usualBlock: unreached, in: work.image)
        expectSuccess(try Ksqsh.verify(work.image, against: work.source))
    }

    @Test("inodes are numbered in data order, build files first, then the directories, the root last")
    func inodeOrder() throws {
        let work = try Workspace("placement-inodes")
        defer { work.remove() }
        try Self.squashKernelLikeTree(work)
        func number(_ path: ByteString) throws -> Int {
            let fields = try Rdsquashfs.stat(work.image, path)
            return try #require(fields["Inode number"].flatMap { Int($0) }, "\(path): \(fields)")
        }
        let kbuild = try Self.kbuild.map(number)
        let rest = try Self.rest.map(number)
        let directories = try Self.directories.map(number)
        let entries = 1 + Self.directories.count + 1 + Self.kbuild.count + Self.rest.count
        #expect(kbuild.max()! < rest.min()!, "kbuild \(kbuild) before the rest \(rest)")
        #expect(try number("Kconfig") < rest.min()!)
        #expect(rest.max()! < directories.min()!, "files \(rest) before directories \(directories)")
        #expect(try number("/") == entries, "the root is the last of \(entries) inodes")
    }

    @Test("the listing of a directory with many files the build re-reads is stored uncompressed; plain order compresses it")
    func rawListings() throws {
        let work = try Workspace("placement-listings")
        defer { work.remove() }
        try Self.makeKernelSkeleton(work)
        // 100 headers asm-offsets.c includes, with names long enough that
        // include/linux's listing (~13 KB) fills a whole metadata block.
        let headers = (0..<100).map { "header-\($0)-" + String(repeating: "x", count: 100) + ".h" }
        try FS.writeFile(work.source / "arch/x86/kernel/asm-offsets.c", Array(headers.map { "#include <linux/\($0)>\n" }.joined().utf8))
        for (number, header) in headers.enumerated() {
            try FS.writeFile(work.source / "include/linux" / ByteString(header), Array("/* \(number) */\n".utf8))
        }

        func rawDirectoryBlocks(layout: ByteString) throws -> Int {
            try Ksqsh.squashChecked(work.source, work.image, ["--layout", layout, "--force"])
            let image = try FS.readFile(work.image)
            let superBlock = try SuperBlock(image)
            let directoryTableEnd = Int(SuperBlock.u64(image, Int(superBlock.fragmentTableStart)))
            var position = Int(superBlock.directoryTableStart)
            var raw = 0
            while position < directoryTableEnd {
                let header = MetadataBlockHeader(image, at: position)
                if !header.compressed { raw += 1 }
                position += 2 + header.size
            }
            #expect(position == directoryTableEnd, "the directory table's blocks end where the fragment table's begin")
            expectSuccess(try Ksqsh.verify(work.image, against: work.source))
            return raw
        }
        #expect(try rawDirectoryBlocks(layout: "kernel") >= 1)
        #expect(try rawDirectoryBlocks(layout: "plain") == 0)
    }
}
