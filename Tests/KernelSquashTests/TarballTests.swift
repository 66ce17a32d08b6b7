import Glibc
import Testing

/// `ksqsh squash TARBALL IMAGE`: the same image content as squashing what
/// `tar -x` unpacks, for every tar flavour and compression, and a clean
/// error with no image for anything malformed.
@Suite("Squash from a tarball", .serialized, .hangGuard)
struct TarballTests {
    /// (file name, GNU tar options): each tar dialect and each decompressor.
    static let flavours: [(String, [ByteString])] = [
        ("gnu.tar.xz", ["--format=gnu", "--xz"]),
        ("pax.tar.gz", ["--format=pax", "--gzip"]),
        ("pax.tar.zst", ["--format=pax", "--zstd"]),
        ("gnu.tar", ["--format=gnu"]),
    ]

    @Test("A tarball squashes to what its unpacked tree squashes to, and verifies against that tree", arguments: flavours)
    func sameAsUnpackedTree(name: String, options: [ByteString]) throws {
        let work = try Workspace("tar-\(name)")
        defer { work.remove() }
        try work.buildFixture(large: false)
        let tarball = work[ByteString(name)]
        try Subprocess.runChecked("tar", ["-C", work.path, "-c", "-f", tarball] + options + ["src"])
        try expectSameImage(tarball: tarball, work: work)
    }

    @Test("git archive output (pax global header, one top directory) squashes like its unpacked tree")
    func gitArchive() throws {
        let work = try Workspace("tar-git")
        defer { work.remove() }
        try work.buildFixture(large: false)
        let repository = work.source
        let environment: [String: String?] = ["GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"]
        let git = { (arguments: [ByteString]) in
            _ = try Subprocess.runChecked("git", ["-C", repository, "-c", "user.name=t", "-c", "user.email=t@t"] + arguments, environment: environment)
        }
        try git(["init", "-q"])
        try git(["add", "-A", "sizes", "links", "names"])
        try git(["commit", "-q", "-m", "fixture"])
        // git archive writes plain tar here (its tar.xz needs configuration): compress it as kernel.org does.
        let plain = work["linux-git.tar"]
        try git(["archive", "--format=tar", "--prefix=linux-git/", "-o", plain, "HEAD"])
        try Subprocess.runChecked("xz", ["-T1", plain])
        let tarball = work["linux-git.tar.xz"]
        let header = try Subprocess.runChecked("sh", ["-c", "xz -dc \"$1\" | head -c 512", "sh", tarball]).stdout
        #expect(header[156] == UInt8(ascii: "g"), "git archive should begin with a pax global header")
        try expectSameImage(tarball: tarball, work: work)
    }

    /// Squashes the tarball, unpacks it with GNU tar, squashes that tree,
    /// and compares: identical `unsquashfs -lls` listings, and `ksqsh verify`
    /// of the tarball's image against the unpacked tree.
    private func expectSameImage(tarball: ByteString, work: Workspace) throws {
        let fromTarball = work.imageDirectory / "from-tarball.sqfs"
        let fromTree = work.imageDirectory / "from-tree.sqfs"
        let unpacked = work["unpacked"]
        try FS.mkdir(unpacked)
        try Subprocess.runChecked("tar", ["-C", unpacked, "-x", "-f", tarball, "--numeric-owner"])
        let top = try FS.list(unpacked)
        #expect(top.count == 1, "the tarball should have one top directory: \(top)")
        let tree = unpacked / top[0]

        // --verify reads the archive a second time and compares every byte.
        let squashed = try Ksqsh.squash(tarball, fromTarball, ["--verify"], quiet: false)
        expectSuccess(squashed)
        #expect(squashed.stdoutText.contains(", verified"), "squash --verify should say it verified: \(squashed)")
        try Ksqsh.squashChecked(tree, fromTree)
        let listings = try [fromTarball, fromTree].map { try Subprocess.runChecked("unsquashfs", ["-lls", "-d", "root", $0]).stdoutText }
        #expect(listings[0] == listings[1], "unsquashfs -lls differs between the tarball's image and the unpacked tree's")
        #expect(listings[0].split(separator: "\n").count > 20, "the listing should hold the fixture: \(listings[0].prefix(300))")
        expectSuccess(try Ksqsh.verify(fromTarball, against: tree))
    }

    @Test("Hand-made archive: pax path and linkpath, GNU-free long names, hard links and './' prefixes")
    func handMadeArchive() throws {
        let work = try Workspace("tar-hand")
        defer { work.remove() }
        let longName = "top/" + String(repeating: "deep-directory-name/", count: 8) + "file.c"
        var tar = TarBuilder()
        tar.entry("top/", type: "5", mode: 0o755)
        tar.entry("./top/Makefile", data: Array("all:\n".utf8))
        // Directories named explicitly: `tar -x` gives unnamed ones the time of unpacking.
        var directory = "top"
        for _ in 0..<8 {
            directory += "/deep-directory-name"
            tar.pax([("path", directory)])
            tar.entry("placeholder-dir", type: "5", mode: 0o750)
        }
        tar.pax([("path", longName)])
        tar.entry("placeholder", data: Array("int x;\n".utf8))
        tar.entry("top/Makefile.link", type: "1", linkName: "top/Makefile")
        tar.pax([("linkpath", "Makefile-" + String(repeating: "a", count: 150))])
        tar.entry("top/long-symlink", type: "2", mode: 0o777)
        // A later entry of the same name replaces the file; the hard link made before keeps the old one, as with tar -x.
        tar.entry("top/Makefile", data: Array("all: again\n".utf8))
        tar.end()
        let tarball = work["hand.tar"]
        try FS.writeFile(tarball, tar.bytes)
        expectSuccess(try Ksqsh.squash(tarball, work.image, ["--verify"]))

        let unpacked = work["unpacked"]
        try FS.mkdir(unpacked)
        try Subprocess.runChecked("tar", ["-C", unpacked, "-x", "-f", tarball])
        // GNU tar makes hard links after it has set the directory times, so
        // top/ keeps the time of unpacking; the archive says 1600000000.
        try FS.setModificationTime(unpacked / "top", seconds: 1_600_000_000)
        expectSuccess(try Ksqsh.verify(work.image, against: unpacked / "top"))
        let listing = try Subprocess.runChecked("unsquashfs", ["-lls", "-d", "root", work.image]).stdoutText
        #expect(listing.contains("root/" + longName.dropFirst(4)), "the pax path should name the file: \(listing)")
        #expect(listing.contains(" -> Makefile-aaaa"), "the pax linkpath should be the symlink's target: \(listing)")
    }

    @Test("Directories an archive never names are made 0755 root:root, with the archive's newest time")
    func impliedDirectories() throws {
        let work = try Workspace("tar-implied")
        defer { work.remove() }
        var tar = TarBuilder()
        tar.entry("linux-x/arch/x86/Makefile", data: Array("x\n".utf8), mtime: 1_700_000_000)
        tar.entry("linux-x/Kconfig", data: Array("y\n".utf8), mtime: 1_600_000_000)
        tar.end()
        let tarball = work["implied.tar"]
        try FS.writeFile(tarball, tar.bytes)
        expectSuccess(try Ksqsh.squash(tarball, work.image))
        let listing = try Subprocess.runChecked("unsquashfs", ["-lls", "-d", "root", work.image], environment: ["TZ": "UTC"])
            .stdoutText.split(separator: "\n").map(String.init)
        for directory in ["root", "root/arch", "root/arch/x86"] {
            let line = listing.first { $0.hasSuffix(" " + directory) }
            #expect(line?.hasPrefix("drwxr-xr-x root/root") == true, "\(directory) should be an implied 0755 directory: \(listing)")
            #expect(line?.contains("2023-11-14") == true, "\(directory) should carry the newest time (2023-11-14): \(line ?? "missing")")
        }
        #expect(listing.contains { $0.hasSuffix(" root/Kconfig") }, "the single top directory linux-x/ becomes the image root: \(listing)")
    }

    /// (what, archive bytes, words the error must contain).
    static func malformedArchives() throws -> [(String, [UInt8], String)] {
        var good = TarBuilder()
        good.entry("top/", type: "5", mode: 0o755)
        good.entry("top/file", data: [UInt8](repeating: 0x41, count: 3000))
        good.end()
        var badChecksum = good.bytes
        badChecksum[5] ^= 0x01
        var dotDot = TarBuilder()
        dotDot.entry("top/../../etc/passwd", data: Array("x".utf8))
        dotDot.end()
        var danglingLink = TarBuilder()
        danglingLink.entry("top/link", type: "1", linkName: "top/missing")
        danglingLink.end()
        var unknownType = TarBuilder()
        unknownType.entry("top/odd", type: "Z")
        unknownType.end()
        var sparse = TarBuilder()
        sparse.entry("top/holes", type: "S")
        sparse.end()
        let xz = try compress(good.bytes, with: "xz")
        var corruptXZ = xz
        corruptXZ[xz.count / 2] ^= 0xFF
        return [
            ("truncated inside a file", Array(good.bytes.prefix(1024 + 700)), "middle of top/file"),
            ("truncated at an entry boundary (no end marker)", Array(good.bytes.prefix(512 + 512 + 3072)), "truncated"),
            ("header checksum", badChecksum, "checksum"),
            ("'..' in a name", dotDot.bytes, ".."),
            ("hard link to a missing file", danglingLink.bytes, "not an earlier file"),
            ("unknown entry type", unknownType.bytes, "unknown entry type"),
            ("sparse entry", sparse.bytes, "sparse"),
            ("corrupt xz", corruptXZ, "corrupt"),
            ("truncated xz", Array(xz.prefix(xz.count - 40)), "truncated"),
            ("bzip2", try compress(good.bytes, with: "bzip2"), "bzip2"),
            ("empty file", [], "not a tar archive"),
            ("not a tarball", Array("#!/bin/sh\necho hello\n".utf8) + [UInt8](repeating: 0x20, count: 600), "not a tar archive"),
        ]
    }

    private static func compress(_ bytes: [UInt8], with tool: String) throws -> [UInt8] {
        let directory = try TemporaryDirectory("tar-compress")
        defer { directory.remove() }
        let plain = directory["archive.tar"]
        try FS.writeFile(plain, bytes)
        try Subprocess.runChecked(ByteString(tool), ["-k", plain])
        return try FS.readFile(plain + (tool == "xz" ? ".xz" : ".bz2"))
    }

    @Test("A malformed or truncated tarball fails with exit 14, one line naming it and the cause, and no image")
    func malformed() throws {
        for (what, bytes, cause) in try Self.malformedArchives() {
            let work = try Workspace("tar-bad")
            defer { work.remove() }
            let tarball = work["bad.tar"]
            try FS.writeFile(tarball, bytes)
            let before = try FS.list(work.imageDirectory)
            let result = try Ksqsh.squash(tarball, work.image)
            expectCleanFailure(result, exit: Ksqsh.Exit.tarballMalformed, naming: tarball, image: work.image, imageDirectoryBefore: before, source: nil, sourceBefore: nil)
            #expect(result.stderrText.contains(cause), "\(what): the error should say '\(cause)': \(result)")
        }
    }

    @Test("--delete-source and --sort-file need a directory: a tarball is refused with exit 11 and left alone")
    func refusesDirectoryOnlyOptions() throws {
        let work = try Workspace("tar-options")
        defer { work.remove() }
        var tar = TarBuilder()
        tar.entry("top/file", data: Array("x".utf8))
        tar.end()
        let tarball = work["ok.tar"]
        try FS.writeFile(tarball, tar.bytes)
        let sortFile = work["order.txt"]
        try FS.writeFile(sortFile, Array("file 1\n".utf8))
        for options: [ByteString] in [["--delete-source"], ["--sort-file", sortFile]] {
            let result = try Ksqsh.squash(tarball, work.image, options)
            expectCleanFailure(result, exit: Ksqsh.Exit.sourceNotDirectory, naming: tarball, image: work.image, imageDirectoryBefore: [], source: nil, sourceBefore: nil)
            #expect(try FS.readFile(tarball) == tar.bytes, "\(options): the tarball must be left as it was")
        }
    }
}
