import Glibc
import Testing

/// The command line itself: help, usage errors (64), --quiet.
@Suite("Command line", .hangGuard)
struct CommandLineTests {
    @Test("The ksqsh binary exists next to the test bundle")
    func binaryIsBuilt() throws {
        let binary = try Ksqsh.binary()
        #expect(FS.exists(binary))
    }

    @Test("--help names both subcommands and exits 0")
    func help() throws {
        let result = try Ksqsh.run(["--help"])
        expectSuccess(result)
        #expect(result.stdoutText.contains("squash") && result.stdoutText.contains("verify"), "\(result)")
        let squashHelp = try Ksqsh.run(["squash", "--help"])
        expectSuccess(squashHelp)
        for option in ["--block-size", "--compression", "--jobs", "--keep-owner", "--verify", "--delete-source", "--force", "--quiet"] {
            #expect(squashHelp.stdoutText.contains(option), "squash --help should document \(option)")
        }
    }

    @Test(
        "Malformed command lines are usage errors (64) and create nothing",
        arguments: [
            ["squash"],
            ["squash", "SRC"],
            ["squash", "SRC", "IMAGE", "--no-such-option"],
            ["squash", "SRC", "IMAGE", "--jobs", "many"],
            ["squash", "SRC", "IMAGE", "--compression"],
            ["squash", "SRC", "IMAGE", "extra-argument"],
            ["verify"],
            ["frobnicate"],
        ] as [[String]]
    )
    func usageErrors(_ arguments: [String]) throws {
        let work = try Workspace("usage")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let before = try Manifest.scan(fixture.root)
        let resolved = arguments.map { argument -> ByteString in
            switch argument {
            case "SRC": fixture.root
            case "IMAGE": work.image
            default: ByteString(argument)
            }
        }
        let result = try Ksqsh.run(resolved)
        #expect(result.exitCode == Ksqsh.Exit.usage, "\(result)")
        #expect(!result.stderr.isEmpty, "a usage error should explain itself on stderr")
        #expect(try FS.list(work.imageDirectory).isEmpty)
        expectUnchanged(fixture.root, before: before)
    }

    @Test(
        "--help lists the values of each option that takes one of a fixed set, as ArgumentParser derives them from the type",
        arguments: ValueList.all
    )
    func helpListsValues(_ list: ValueList) throws {
        let help = try Ksqsh.run(list.command.map { ByteString($0) } + ["--help"])
        expectSuccess(help)
        let entry = try #require(ValueList.helpEntry(help.stdoutText, for: list.name), "\(list.command) --help has no entry for \(list.name): \(help)")
        #expect(entry.contains("values: \(list.values.joined(separator: ", "))"), "\(list.name) in \(list.command) --help: \(entry)")
    }

    @Test(
        "A value outside the list is a usage error (64): one line naming the option, the value and every allowed value; nothing created",
        arguments: ValueList.all
    )
    func valueOutsideListIsUsageError(_ list: ValueList) throws {
        let work = try Workspace("bad-value")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let before = try Manifest.scan(fixture.root)
        let arguments = list.invalid.map { argument -> ByteString in
            switch argument {
            case "SRC": fixture.root
            case "IMAGE": work.image
            case "ROOT": work.imageDirectory
            default: ByteString(argument)
            }
        }
        let result = try Ksqsh.run(arguments)
        #expect(result.exitCode == Ksqsh.Exit.usage, "\(result)")
        #expect(result.stdout.isEmpty, "\(result)")
        #expect(result.stderrLines.count == 1, "a usage error is one line on stderr: \(result)")
        #expect(!result.stderrText.contains("\\n"), "the values are listed in a row, not as escaped lines: \(result)")
        let line = result.stderrText
        #expect(line.contains(list.name), "the message should name \(list.name): \(result)")
        #expect(line.contains("'\(list.invalid.last!)'"), "the message should name the bad value: \(result)")
        for value in list.values {
            #expect(line.contains(value), "the message should offer \(value): \(result)")
        }
        #expect(try FS.list(work.imageDirectory).isEmpty)
        expectUnchanged(fixture.root, before: before)
    }

    @Test("--quiet prints nothing on success, for squash and verify")
    func quietIsQuiet() throws {
        let work = try Workspace("quiet")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let squash = try Ksqsh.squash(fixture.root, work.image, quiet: true)
        expectSuccess(squash)
        #expect(squash.stdout.isEmpty && squash.stderr.isEmpty, "\(squash)")
        let verify = try Ksqsh.verify(work.image, against: fixture.root, quiet: true)
        expectSuccess(verify)
        #expect(verify.stdout.isEmpty && verify.stderr.isEmpty, "\(verify)")
    }

    @Test("Without --quiet a squash still succeeds and --verify verifies")
    func loudSquashWithVerify() throws {
        let work = try Workspace("loud")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let squash = try Ksqsh.squash(fixture.root, work.image, ["--verify"], quiet: false)
        expectSuccess(squash)
        expectSuccess(try Ksqsh.verify(work.image, against: fixture.root))
    }
}

/// An option or argument that takes one of a fixed set of words: the
/// spellings ksqsh accepts, exactly, and a command line that gives it a
/// word outside them (the last argument; SRC, IMAGE and ROOT are filled in).
struct ValueList: Sendable, CustomTestStringConvertible {
    let command: [String]
    /// As --help and the error name it: `--option` or `<argument>`.
    let name: String
    let values: [String]
    let invalid: [String]

    var testDescription: String { "\(command.joined(separator: " ")) \(name)" }

    static let all: [ValueList] = [
        ValueList(
            command: ["squash"], name: "--compression", values: ["xz", "zstd", "lz4", "gzip", "lzo", "lzma"],
            invalid: ["squash", "SRC", "IMAGE", "--compression", "XZ"]),
        ValueList(
            command: ["squash"], name: "--layout", values: ["plain", "kernel"],
            invalid: ["squash", "SRC", "IMAGE", "--layout", "fast"]),
        ValueList(
            command: ["hooks", "install"], name: "--init", values: ["openrc", "systemd", "both", "auto"],
            invalid: ["hooks", "install", "--root", "ROOT", "--init", "upstart"]),
        ValueList(
            command: ["hooks", "service"], name: "<init-system>", values: ["openrc", "systemd"],
            invalid: ["hooks", "service", "runit"]),
        ValueList(
            command: ["hook"], name: "<phase>",
            values: ["pre_src_install", "post_src_install", "pre_pkg_preinst", "post_pkg_postinst", "pre_pkg_prerm", "post_pkg_postrm"],
            invalid: ["hook", "src_$(id)"]),
    ]

    /// The entry for `name` in a --help text (its line and the indented lines
    /// under it), with whitespace and line breaks folded to single spaces.
    static func helpEntry(_ help: String, for name: String) -> String? {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("  \(name) ") || $0 == "  \(name)" }) else { return nil }
        let rest = lines[(start + 1)...].prefix { $0.hasPrefix("        ") }
        return ([lines[start]] + rest).joined(separator: " ").split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}

/// How the data is stored, per the design notes (docs/squashfs.md): duplicate
/// files once, zero blocks as sparse blocks.
@Suite("Image layout (design notes)", .hangGuard)
struct ImageLayoutTests {
    @Test(
        "A duplicated multi-block incompressible file is stored once",
        .enabled(if: Requirements.hasRdsquashfs, "needs rdsquashfs (squashfs-tools-ng)")
    )
    func duplicateFilesAreStoredOnce() throws {
        let work = try Workspace("dedup")
        defer { work.remove() }
        let source = work.source
        try FS.mkdir(source)
        let random = Content.random(3 << 20, seed: 31337)
        try FS.writeFile(source / "a.bin", random)
        try FS.mkdir(source / "sub")
        try FS.writeFile(source / "sub/b.bin", random)
        try Ksqsh.squashChecked(source, work.image)
        let superBlock = try SuperBlock(file: work.image)
        #expect(superBlock.bytesUsed < UInt64(4 << 20), "two copies of 3 MiB of random data take \(superBlock.bytesUsed) bytes: not deduplicated")
        let a = try Rdsquashfs.stat(work.image, "/a.bin")
        let b = try Rdsquashfs.stat(work.image, "/sub/b.bin")
        #expect(a["Blocks start"] != nil && a["Blocks start"] == b["Blocks start"], "a: \(a), b: \(b)")
        expectSuccess(try Ksqsh.verify(work.image, against: source))
    }

    @Test(
        "Zero blocks of a sparse file are stored as sparse blocks",
        .enabled(if: Requirements.hasRdsquashfs, "needs rdsquashfs (squashfs-tools-ng)")
    )
    func holesAreSparse() throws {
        let work = try Workspace("sparse")
        defer { work.remove() }
        let source = work.source
        try FS.mkdir(source)
        try FS.writeSparseFile(source / "sparse", size: 64 << 20, chunks: [(0, Content.text(4096, seed: 9)), ((64 << 20) - 3, Array("END".utf8))])
        try Ksqsh.squashChecked(source, work.image)
        let stat = try Rdsquashfs.stat(work.image, "/sparse")
        let sparse = Int(stat["Sparse"] ?? "") ?? 0
        #expect(sparse >= 60 << 20, "rdsquashfs reports \(sparse) sparse bytes: \(stat)")
        #expect(try SuperBlock(file: work.image).bytesUsed < UInt64(64 << 10))
        expectSuccess(try Ksqsh.verify(work.image, against: source))
    }

    @Test(
        "A sparse file just over 4 GiB (size beyond 32 bits) round-trips",
        .enabled(if: Requirements.hasRdsquashfs, "needs rdsquashfs (squashfs-tools-ng)"),
        .hangGuard
    )
    func fileLargerThanFourGiB() throws {
        let work = try Workspace("huge")
        defer { work.remove() }
        let source = work.source
        try FS.mkdir(source)
        let size = (4 << 30) + 4097
        let chunks: [(offset: Int, bytes: [UInt8])] = [
            (0, Array("head".utf8)), ((4 << 30) + 1, Array("past 4 GiB".utf8)), (size - 4, Array("tail".utf8)),
        ]
        try FS.writeSparseFile(source / "huge.img", size: size, chunks: chunks)
        try Ksqsh.squashChecked(source, work.image, timeout: .seconds(100))
        let stat = try Rdsquashfs.stat(work.image, "/huge.img")
        #expect(stat["File size"] == "\(size)", "\(stat)")
        #expect(stat["Inode type"] == "extended file", "sizes beyond 4 GiB need the extended inode: \(stat)")
        guard Requirements.isRoot, Mounts.canLoopMount else { return }
        // Spot reads through the kernel (hashing 4 GiB of zeros again would
        // cost more than the rest of the suite).
        let mountPoint = work["mnt"]
        try FS.mkdir(mountPoint)
        try Mounts.withImage(work.image, at: mountPoint) {
            let file = mountPoint / "huge.img"
            #expect(try FS.lstat(file).st_size == size)
            let fd = file.withCString { open($0, O_RDONLY | O_CLOEXEC) }
            try #require(fd >= 0)
            defer { close(fd) }
            for chunk in chunks + [(offset: 3 << 30, bytes: [UInt8](repeating: 0, count: 4096))] {
                var buffer = [UInt8](repeating: 0xaa, count: chunk.bytes.count)
                let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, off_t(chunk.offset)) }
                #expect(n == chunk.bytes.count && buffer == chunk.bytes, "bytes at offset \(chunk.offset)")
            }
        }
    }
}
