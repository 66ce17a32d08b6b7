import Testing

/// `--sort-file`: mksquashfs's sort-file format decides which files' data comes first.
@Suite("Sort file", .serialized)
struct SortFileTests {
    /// The fragment offset rdsquashfs reports for a small file.
    private func fragmentOffset(_ path: ByteString, in image: ByteString) throws -> Int? {
        let report = try Subprocess.runChecked("rdsquashfs", ["-s", path, image]).stdoutText
        return report.split(separator: "\n").first { $0.hasPrefix("Fragment offset:") }
            .flatMap { Int($0.split(separator: " ").last ?? "") }
    }

    @Test("Higher priorities first, a directory's priority covers its files, unlisted files last in plain order")
    func priorities() throws {
        let work = try Workspace("sort-file")
        defer { work.remove() }
        try FS.mkdirs(work.source / "dir")
        try FS.writeFile(work.source / "a.txt", Array("aaaa\n".utf8))
        try FS.writeFile(work.source / "b with space.txt", Array("bbbbbb\n".utf8))
        try FS.writeFile(work.source / "dir/c.txt", Array("cccccccc\n".utf8))
        let sortFile = work["order.txt"]
        try FS.writeFile(sortFile, Array("# comment\n./dir/ 10\nb with space.txt 5\n".utf8))
        try Ksqsh.squashChecked(work.source, work.image, ["--sort-file", sortFile])
        let offsets = try ["dir/c.txt", "b with space.txt", "a.txt"].map { try fragmentOffset(ByteString($0), in: work.image) }
        #expect(offsets == [0, 9, 16], "expected dir/c.txt, then 'b with space.txt', then a.txt: \(offsets)")
        expectSuccess(try Ksqsh.verify(work.image, against: work.source))
    }

    @Test("A sort file that is missing or malformed fails with exit 12 naming it, and no image")
    func badSortFile() throws {
        let work = try Workspace("sort-file-bad")
        defer { work.remove() }
        try FS.mkdirs(work.source)
        try FS.writeFile(work.source / "a", [1])
        let malformed = work["bad.txt"]
        try FS.writeFile(malformed, Array("a high\n".utf8))
        for sortFile in [work["missing.txt"], malformed] {
            let result = try Ksqsh.squash(work.source, work.image, ["--sort-file", sortFile])
            expectCleanFailure(result, exit: Ksqsh.Exit.sourceUnreadable, naming: sortFile, image: work.image, imageDirectoryBefore: [], source: nil, sourceBefore: nil)
        }
    }
}
