import Glibc
import Testing

/// Every failure is clean: its own exit status, one line on stderr naming the
/// path, no IMAGE (not even a partial one), no temp file beside it, and SRC
/// exactly as it was.
@Suite("Squash errors fail cleanly", .serialized, .hangGuard)
struct ErrorCaseTests {
    @Test("SRC missing exits 10")
    func sourceMissing() throws {
        let work = try Workspace("err-src-missing")
        defer { work.remove() }
        let source = work["no-such-source"]
        let result = try Ksqsh.squash(source, work.image)
        expectCleanFailure(result, exit: Ksqsh.Exit.sourceMissing, naming: source, image: work.image,
                           imageDirectoryBefore: [], source: nil, sourceBefore: nil)
        #expect(!FS.exists(source))
    }

    @Test("SRC that is a regular file exits 11")
    func sourceIsAFile() throws {
        let work = try Workspace("err-src-file")
        defer { work.remove() }
        let source = work["a-file"]
        try FS.writeFile(source, Array("not a directory\n".utf8))
        try FS.setModificationTime(source, seconds: 1_000_000)
        let before = try Manifest.scan(source)
        let result = try Ksqsh.squash(source, work.image)
        expectCleanFailure(result, exit: Ksqsh.Exit.sourceNotDirectory, naming: source, image: work.image,
                           imageDirectoryBefore: [], source: source, sourceBefore: before)
    }

    @Test("SRC that is a symlink to a file exits 11")
    func sourceIsASymlinkToAFile() throws {
        let work = try Workspace("err-src-link")
        defer { work.remove() }
        try FS.writeFile(work["target-file"], [1, 2, 3])
        let source = work["link"]
        try FS.symlink(target: "target-file", at: source)
        let result = try Ksqsh.squash(source, work.image)
        expectCleanFailure(result, exit: Ksqsh.Exit.sourceNotDirectory, naming: source, image: work.image,
                           imageDirectoryBefore: [], source: nil, sourceBefore: nil)
    }

    /// Runs ksqsh as an unprivileged user (nobody via setpriv when we are root).
    static func runUnprivileged(_ arguments: [ByteString]) throws -> ProcessResult {
        guard Requirements.isRoot else { return try Ksqsh.run(arguments) }
        return try Subprocess.run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--", try Ksqsh.binary()] + arguments)
    }

    static var canRunUnprivileged: Bool { !Requirements.isRoot || Subprocess.isInstalled("setpriv") }

    @Test(
        "An unreadable entry in SRC exits 12 and names it",
        .enabled(if: canRunUnprivileged, "needs setpriv to drop root (root reads everything)"),
        arguments: ["locked-directory", "locked-file"]
    )
    func sourceUnreadable(_ locked: String) throws {
        let work = try Workspace("err-src-unreadable")
        defer { work.remove() }
        try FS.chmod(work.path, 0o755)
        try FS.chmod(work.imageDirectory, 0o777)
        let source = work.source
        try FS.mkdir(source)
        try FS.writeFile(source / "readable", Array("fine\n".utf8))
        if locked == "locked-directory" {
            try FS.mkdir(source / "locked-directory")
            try FS.writeFile(source / "locked-directory/inside", Array("secret\n".utf8))
            try FS.chmod(source / "locked-directory", 0)
        } else {
            try FS.writeFile(source / "locked-file", Array("secret\n".utf8))
            try FS.chmod(source / "locked-file", 0)
        }
        try FS.writeFile(source / "zz-after", Array("after\n".utf8))
        let before = try Manifest.scan(source)
        let result = try Self.runUnprivileged(["squash", source, work.image, "--quiet"])
        expectCleanFailure(result, exit: Ksqsh.Exit.sourceUnreadable, naming: ByteString(locked), image: work.image,
                           imageDirectoryBefore: [], source: source, sourceBefore: before)
    }

    @Test("IMAGE's directory missing exits 21")
    func imageDirectoryMissing() throws {
        let work = try Workspace("err-dir-missing")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let before = try Manifest.scan(fixture.root)
        let directory = work["no-such-dir"]
        let image = directory / "linux.sqfs"
        let result = try Ksqsh.squash(fixture.root, image)
        expectCleanFailure(result, exit: Ksqsh.Exit.imageDirectoryMissing, naming: directory, image: image,
                           imageDirectoryBefore: nil, source: fixture.root, sourceBefore: before)
        #expect(!FS.exists(directory), "ksqsh must not create IMAGE's directory")
    }

    @Test(
        "IMAGE's directory on a read-only file system exits 22",
        .enabled(if: Requirements.isRoot, "needs root to mount a read-only tmpfs")
    )
    func imageDirectoryReadOnlyMount() throws {
        let work = try Workspace("err-dir-ro")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let before = try Manifest.scan(fixture.root)
        let directory = work["read-only"]
        try FS.mkdir(directory)
        try Mounts.withTmpfs("ro,size=1M", at: directory) {
            let image = directory / "linux.sqfs"
            let result = try Ksqsh.squash(fixture.root, image)
            expectCleanFailure(result, exit: Ksqsh.Exit.imageDirectoryNotWritable, naming: directory, image: image,
                               imageDirectoryBefore: [], source: fixture.root, sourceBefore: before)
        }
    }

    @Test(
        "IMAGE's directory without write permission exits 22",
        .enabled(if: canRunUnprivileged, "needs setpriv to drop root (root writes everywhere)")
    )
    func imageDirectoryNotWritable() throws {
        let work = try Workspace("err-dir-perm")
        defer { work.remove() }
        try FS.chmod(work.path, 0o755)
        let source = work["plain"]
        try FS.mkdir(source)
        try FS.writeFile(source / "file", Array("x\n".utf8))
        let before = try Manifest.scan(source)
        try FS.chmod(work.imageDirectory, 0o555)
        let result = try Self.runUnprivileged(["squash", source, work.image, "--quiet"])
        expectCleanFailure(result, exit: Ksqsh.Exit.imageDirectoryNotWritable, naming: work.imageDirectory, image: work.image,
                           imageDirectoryBefore: [], source: source, sourceBefore: before)
    }

    @Test(
        "No space left in IMAGE's directory exits 23 and leaves the file system as empty as before",
        .enabled(if: Requirements.isRoot, "needs root to mount a tiny tmpfs")
    )
    func diskFull() throws {
        let work = try Workspace("err-full")
        defer { work.remove() }
        let source = work.source
        try FS.mkdir(source)
        for index in 0..<3 { try FS.writeFile(source / ByteString("random-\(index)"), Content.random(1 << 20, seed: 900 + UInt64(index))) }
        try FS.writeFile(source / "small", Array("small\n".utf8))
        let before = try Manifest.scan(source)
        let directory = work["tiny"]
        try FS.mkdir(directory)
        try Mounts.withTmpfs("size=256k", at: directory) {
            let space = try FS.freeBytes(directory)
            let image = directory / "linux.sqfs"
            let result = try Ksqsh.squash(source, image)
            expectCleanFailure(result, exit: Ksqsh.Exit.noSpace, naming: directory, image: image,
                               imageDirectoryBefore: [], source: source, sourceBefore: before)
            let after = try FS.freeBytes(directory)
            #expect(after.free == space.free, "the tmpfs should be as free as before (\(space.free) bytes), has \(after.free)")
        }
    }

    @Test("IMAGE that exists exits 20 and is left untouched; --force replaces it")
    func imageExists() throws {
        let work = try Workspace("err-exists")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let before = try Manifest.scan(fixture.root)
        let precious = Array("precious, not an image\n".utf8)
        try FS.writeFile(work.image, precious)
        try FS.setModificationTime(work.image, seconds: 1_111_111_111)
        let inode = try FS.lstat(work.image).st_ino

        let result = try Ksqsh.squash(fixture.root, work.image)
        #expect(result.exitCode == Ksqsh.Exit.imageExists, "\(result)")
        #expect(result.stderrLines.count == 1 && result.stderr.firstIndex(of: work.image.bytes) != nil, "one line naming IMAGE: \(result)")
        #expect(try FS.readFile(work.image) == precious, "IMAGE's content must be untouched")
        let st = try FS.lstat(work.image)
        #expect(st.st_mtim.tv_sec == 1_111_111_111 && st.st_ino == inode, "IMAGE must be the same file, unmodified")
        #expect(try FS.list(work.imageDirectory) == [work.image.lastComponent], "no temp files beside IMAGE")
        expectUnchanged(fixture.root, before: before)

        let forced = try Ksqsh.squash(fixture.root, work.image, ["--force"])
        expectSuccess(forced)
        #expect(try FS.list(work.imageDirectory) == [work.image.lastComponent], "only IMAGE in its directory")
        expectSuccess(try Ksqsh.verify(work.image, against: fixture.root))
        expectUnchanged(fixture.root, before: before)
    }

    @Test("--force onto a good image of another tree replaces it completely")
    func forceReplacesAnImage() throws {
        let work = try Workspace("err-force")
        defer { work.remove() }
        let first = try FixtureTree.build(at: work["first"], large: false)
        let second = work["second"]
        try FS.mkdir(second)
        try FS.writeFile(second / "only-file", Array("just me\n".utf8))
        try Ksqsh.squashChecked(first.root, work.image)
        try Ksqsh.squashChecked(second, work.image, ["--force"])
        expectSuccess(try Ksqsh.verify(work.image, against: second))
        let reference = work.imageDirectory / "reference.sqfs"
        try Ksqsh.squashChecked(second, reference)
        let cmp = try Subprocess.run("cmp", [work.image, reference])
        #expect(cmp.succeeded, "a forced image must equal a fresh one (no leftover bytes of the old, larger image): \(cmp)")
    }

    @Test("IMAGE that is a directory is not replaced, even with --force")
    func imageIsADirectory() throws {
        let work = try Workspace("err-image-dir")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let before = try Manifest.scan(fixture.root)
        try FS.mkdir(work.image)
        try FS.writeFile(work.image / "keep-me", Array("inside\n".utf8))
        let imageBefore = try Manifest.scan(work.image)
        for options in [[], ["--force"]] as [[ByteString]] {
            let result = try Ksqsh.squash(fixture.root, work.image, options)
            #expect(
                [Ksqsh.Exit.imageExists, Ksqsh.Exit.writeFailed].contains(result.exitCode ?? -1),
                "IMAGE is a directory (\(options)): \(result)"
            )
            #expect(result.stderrLines.count == 1 && result.stderr.firstIndex(of: work.image.bytes) != nil, "one line naming IMAGE: \(result)")
            expectUnchanged(work.image, before: imageBefore)
            #expect(try FS.list(work.imageDirectory) == [work.image.lastComponent], "no temp files beside IMAGE")
        }
        expectUnchanged(fixture.root, before: before)
    }

    @Test("An empty SRC gives a valid image holding only the root directory")
    func emptySource() throws {
        let work = try Workspace("err-empty")
        defer { work.remove() }
        try FS.mkdir(work.source)
        try FS.chmod(work.source, 0o700)
        try FS.setModificationTime(work.source, seconds: 1_000_000_000)
        try Ksqsh.squashChecked(work.source, work.image)
        expectSuccess(try Ksqsh.verify(work.image, against: work.source))
        #expect(try SuperBlock(file: work.image).inodeCount == 1)
        if Requirements.hasUnsquashfs {
            try Unsquashfs.extract(work.image, to: work["out"])
            expectTreesMatch(try Manifest.scan(work["out"]), try Manifest.scan(work.source), .init(ownership: IndependentReaderTests.defaultOwnership), reader: "unsquashfs")
        }
    }

    @Test("The super block time counts the root directory's mtime as part of the tree")
    func superBlockTimeIncludesRoot() throws {
        // "else the newest mtime in the tree": here the newest is SRC's own.
        let work = try Workspace("root-newest")
        defer { work.remove() }
        try FS.mkdir(work.source)
        try FS.writeFile(work.source / "old", [])
        try FS.setModificationTime(work.source / "old", seconds: 1_000)
        try FS.setModificationTime(work.source, seconds: 1_700_000_000)
        try Ksqsh.squashChecked(work.source, work.image)
        let time = try SuperBlock(file: work.image).modificationTime
        #expect(time == 1_700_000_000, "super block time \(time): SRC's own mtime is the newest in the tree")
    }

    @Test("An unknown compressor name is a usage error (64)")
    func unknownCompressor() throws {
        let work = try Workspace("err-comp")
        defer { work.remove() }
        let fixture = try work.buildFixture(large: false)
        let before = try Manifest.scan(fixture.root)
        let result = try Ksqsh.squash(fixture.root, work.image, ["--compression", "foo"])
        #expect(result.exitCode == Ksqsh.Exit.usage, "\(result)")
        #expect(result.stderrText.contains("foo"), "the message should name the bad value: \(result)")
        #expect(!FS.exists(work.image))
        #expect(try FS.list(work.imageDirectory).isEmpty)
        expectUnchanged(fixture.root, before: before)
    }

    @Test("A FIFO in SRC is stored as a FIFO, never opened (no hang)", .hangGuard)
    func fifoIsNotRead() throws {
        let work = try Workspace("err-fifo")
        defer { work.remove() }
        let source = work.source
        try FS.mkdir(source)
        try FS.mkfifo(source / "pipe")
        try FS.writeFile(source / "zz-file", Array("after the pipe\n".utf8))
        let before = try Manifest.scan(source)
        let result = try Ksqsh.squash(source, work.image, timeout: .seconds(30))
        #expect(!result.timedOut, "ksqsh hung on the FIFO (killed after 30 s): \(result)")
        expectSuccess(result)
        expectUnchanged(source, before: before)
        if Requirements.hasUnsquashfs, result.succeeded {
            let listing = try Unsquashfs.listing(work.image, numeric: true)
            #expect(listing.first { $0.path == "/pipe" }?.permissions.first == "p", "\(listing.map(\.path))")
        }
        if result.succeeded { expectSuccess(try Ksqsh.verify(work.image, against: source)) }
    }

    @Test(
        "A file truncated while ksqsh reads it exits 13",
        .enabled(if: FS.exists("/proc/self/fd"), "needs /proc to see when ksqsh has the file open"),
        .hangGuard
    )
    func fileTruncatedDuringSquash() throws {
        // Deterministic: wait until ksqsh holds the victim open (its fd shows
        // up in /proc/PID/fd), stop ksqsh, truncate the file, let ksqsh go on.
        // Small blocks keep ksqsh's read-ahead far below the file's size.
        let work = try Workspace("err-changed")
        defer { work.remove() }
        let source = work.source
        try FS.mkdir(source)
        try FS.writeFile(source / "aa-small", Array("small\n".utf8))
        let victimName: ByteString = "victim.bin"
        let victimSize = 16 << 20
        try FS.writeFile(source / victimName, Content.random(victimSize, seed: 1313))
        let victim = FS.realPath(source / victimName) ?? source / victimName
        try FS.writeFile(source / "zz-small", Array("small\n".utf8))

        let child = try ChildProcess(try Ksqsh.binary(), ["squash", source, work.image, "--jobs", "1", "--block-size", "4K", "--quiet"])
        var caught = false
        var position = "?"
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline, child.isRunning {
            if let fd = Self.openDescriptor(of: child.pid, for: victim) {
                child.send(SIGSTOP)
                if Self.openDescriptor(of: child.pid, for: victim) == fd {
                    position = (try? FS.readFile(ByteString("/proc/\(child.pid)/fdinfo/\(fd)")))
                        .map { String(decoding: $0, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? "" } ?? "?"
                    try FS.truncate(victim, size: victimSize / 3)
                    caught = true
                }
                child.send(SIGCONT)
                if caught { break }
            }
            usleep(500)
        }
        let result = child.wait(timeout: .seconds(90))
        guard caught else {
            try Test.cancel("could not catch ksqsh with \(victim) open (it finished or never opened it): \(result)")
        }
        expectCleanFailure(result, exit: Ksqsh.Exit.sourceChanged, naming: "victim.bin", image: work.image,
                           imageDirectoryBefore: [], source: nil, sourceBefore: nil)
        if result.exitCode != Ksqsh.Exit.sourceChanged {
            Issue.record("victim truncated from \(victimSize) to \(victimSize / 3) bytes while ksqsh had it open (fdinfo \(position))")
        }
    }

    /// The fd number under which `pid` has `path` open, if it does.
    static func openDescriptor(of pid: pid_t, for path: ByteString) -> Int? {
        let directory = ByteString("/proc/\(pid)/fd")
        guard let names = try? FS.list(directory) else { return nil }
        for name in names {
            if let target = try? FS.readlink(directory / name), target == path { return Int(name.string) }
        }
        return nil
    }
}
