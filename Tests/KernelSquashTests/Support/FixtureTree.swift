import Glibc

/// SplitMix64: a small seeded generator, so every fixture byte is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// Deterministic file contents.
enum Content {
    /// Incompressible bytes.
    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            let words = count / 8
            let pointer = raw.baseAddress!
            for index in 0..<words { pointer.storeBytes(of: generator.next(), toByteOffset: index * 8, as: UInt64.self) }
            for index in (words * 8)..<count { raw[index] = UInt8(truncatingIfNeeded: generator.next()) }
        }
        return bytes
    }

    private static let words: [[UInt8]] = [
        "static", "int", "struct", "return", "kernel", "module", "config", "void", "unsigned", "long",
        "if", "else", "for", "while", "case", "break", "default", "#include", "#define", "const",
        "spin_lock", "mutex", "irq", "dma", "page", "buffer", "device", "driver", "probe", "remove",
        "{", "}", "(", ")", ";", "->", "=", "==", "0", "1", "NULL", "err", "ret", "size_t", "u32", "u64",
    ].map { Array($0.utf8) }

    /// C-like text: a 16 KiB page of seeded random words, repeated with a
    /// numbered header before each copy. Every file and every block differs,
    /// yet xz compresses it fast (random words everywhere would cost the
    /// suite several seconds of xz per MiB).
    static func text(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SplitMix64(seed: seed)
        var page: [UInt8] = []
        page.reserveCapacity(16_384 + 128)
        while page.count < 16_384 {
            if generator.next() % 3 == 0 { page.append(UInt8(ascii: "\t")) }
            for _ in 0..<(4 + Int(generator.next() % 12)) {
                page += words[Int(generator.next() % UInt64(words.count))]
                page.append(UInt8(ascii: " "))
            }
            page.append(UInt8(ascii: "\n"))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + page.count + 64)
        var pageNumber = 0
        while bytes.count < count {
            bytes += Array("/* \(seed) page \(pageNumber) */\n".utf8)
            bytes += page
            pageNumber += 1
        }
        return Array(bytes.prefix(count))
    }
}

/// A source tree with every kind of entry and edge case ksqsh must carry into
/// an image unchanged. Build it with `FixtureTree.build(at:)`.
///
/// Every entry gets an explicit mtime (children before their directory), so
/// the tree — and any image of it — is the same on every run.
struct FixtureTree: Sendable {
    let root: ByteString
    /// Whether the device nodes exist (mknod needs root).
    let hasDevices: Bool

    static let MiB = 1 << 20

    // Paths the tests refer to by name.
    static let randomFile: ByteString = "data/random.bin"
    static let randomFileSize = 2 * MiB + 333
    static let randomSeed: UInt64 = 0x6b73_7173_6821
    static let sparseFile: ByteString = "data/sparse-64M.img"
    static let sparseFileSize = 64 * MiB
    static let fifo: ByteString = "special/fifo"
    static let symlinkRelative: ByteString = "links/relative"
    static let symlinkLong: ByteString = "links/long-target"
    static let hardLinkPair: [ByteString] = ["hardlinks/pair-a", "hardlinks/pair-b"]
    static let hardLinkTriple: [ByteString] = ["hardlinks/triple-1", "hardlinks/triple-2", "hardlinks/sub/triple-3"]
    static let plainFile: ByteString = "sizes/4097"
    static let nonUTF8Name: ByteString = ByteString([UInt8]("names/latin1-".utf8) + [0xe9, 0x74, 0xe9])
    static let nonUTF8Directory: ByteString = ByteString([UInt8]("names/".utf8) + [0xff, 0xfe] + [UInt8]("-dir".utf8))
    /// Entries `chownSamples` gives a non-root owner.
    static let ownedSamples: [ByteString] = ["ownership/owned-file", "ownership/owned-dir", "ownership/owned-link"]

    /// mtimes: the newest (2030-03-17) decides the super block's time when
    /// SOURCE_DATE_EPOCH is unset.
    static let newestMtime = 1_900_000_000
    static let baseMtime = 1_500_000_000
    static let rootMtime = 1_600_000_000

    /// Creates the fixture in `root` (which must not exist yet).
    ///
    /// - Parameter large: include the 64 MiB sparse file and the multi-MiB
    ///   files; tests that only need shapes and names can leave them out.
    @discardableResult
    static func build(at root: ByteString, large: Bool = true) throws -> FixtureTree {
        let builder = Builder(root: root)
        try builder.build(large: large)
        return FixtureTree(root: root, hasDevices: builder.devices)
    }

    /// Gives `ownedSamples` the owner uid:gid (lchown, so the symlink itself).
    /// Keeps mtimes: chown only changes ctime.
    func chownSamples(uid: uid_t = 1234, gid: gid_t = 5678) throws {
        for path in Self.ownedSamples { try FS.lchown(root / path, uid: uid, gid: gid) }
    }

    subscript(_ relative: ByteString) -> ByteString { root / relative }
}

private final class Builder {
    let root: ByteString
    var devices = false
    /// Paths whose mtime is not the running default.
    var mtimes: [ByteString: Int] = [:]
    var created: [ByteString] = []

    init(root: ByteString) { self.root = root }

    func path(_ relative: ByteString) -> ByteString { root / relative }

    func dir(_ relative: ByteString, mode: mode_t = 0o755) throws {
        try FS.mkdir(path(relative))
        try FS.chmod(path(relative), mode)
        created.append(relative)
    }

    func file(_ relative: ByteString, _ contents: [UInt8], mode: mode_t = 0o644) throws {
        try FS.writeFile(path(relative), contents)
        try FS.chmod(path(relative), mode)
        created.append(relative)
    }

    func symlink(_ relative: ByteString, to target: ByteString) throws {
        try FS.symlink(target: target, at: path(relative))
        created.append(relative)
    }

    func hardLink(_ relative: ByteString, to existing: ByteString) throws {
        try FS.link(existing: path(existing), new: path(relative))
        created.append(relative)
    }

    func build(large: Bool) throws {
        try FS.mkdir(root)
        try FS.chmod(root, 0o755)

        // Regular files around every size boundary that matters to squashfs:
        // empty, tiny, the 4 KiB device block, the 1 MiB data block.
        try dir("sizes")
        var seed: UInt64 = 1
        var sizes: [(String, Int)] = [("empty", 0), ("one-byte", 1), ("4095", 4095), ("4096", 4096), ("4097", 4097)]
        if large {
            sizes += [("1MiB-1", FixtureTree.MiB - 1), ("1MiB", FixtureTree.MiB), ("1MiB+1", FixtureTree.MiB + 1), ("3MiB+17", 3 * FixtureTree.MiB + 17)]
        } else {
            sizes += [("64KiB+3", 65539)]
        }
        for (name, size) in sizes {
            try file("sizes" / ByteString(name), Content.text(size, seed: seed))
            seed += 1
        }

        // Incompressible data, a sparse file, a file ending in a hole.
        try dir("data")
        try file(FixtureTree.randomFile, Content.random(large ? FixtureTree.randomFileSize : 300_001, seed: FixtureTree.randomSeed))
        if large {
            let MiB = FixtureTree.MiB
            try FS.writeSparseFile(path(FixtureTree.sparseFile), size: FixtureTree.sparseFileSize, chunks: [
                (0, Content.text(4096, seed: 100)),
                (17 * MiB + 5, Content.random(10_000, seed: 101)),
                (40 * MiB, Content.text(MiB / 4 + 1, seed: 102)),
                (FixtureTree.sparseFileSize - 3, Array("END".utf8)),
            ])
            created.append(FixtureTree.sparseFile)
            try FS.writeSparseFile(path("data/hole-at-end"), size: 5 * MiB + 7, chunks: [(0, Content.text(100_000, seed: 103))])
            created.append("data/hole-at-end")
            try FS.writeSparseFile(path("data/all-hole"), size: 3 * MiB, chunks: [])
            created.append("data/all-hole")
        }

        // Duplicates: many small files sharing six contents (tail-end dedup),
        // and multi-block files stored twice (whole-file dedup).
        try dir("dups")
        try dir("dups/nested")
        let smallContents = (0..<6).map { Content.text([10, 100, 1000, 3000, 4096, 777][$0], seed: 200 + UInt64($0)) }
        for index in 0..<120 {
            let name = "small-" + String(index + 1000).dropFirst() + ".txt"
            try file("dups" / ByteString(name), smallContents[index % smallContents.count])
        }
        let bigText = Content.text(large ? FixtureTree.MiB + 100_000 : 150_000, seed: 300)
        try file("dups/big-text-a", bigText)
        try file("dups/nested/big-text-b", bigText)
        let bigRandom = Content.random(large ? FixtureTree.MiB + 4321 : 70_000, seed: 301)
        try file("dups/big-random-a", bigRandom)
        try file("dups/nested/big-random-b", bigRandom)

        // Empty directories, and a directory holding only an empty directory.
        try dir("empty")
        try dir("empty/only-empty-inside")
        try dir("empty/only-empty-inside/empty-leaf")

        // Deep nesting.
        var deep: ByteString = "deep"
        try dir(deep)
        for level in 1...40 {
            deep = deep / ByteString("level-\(level)")
            try dir(deep)
        }
        try file(deep / "bottom.txt", Array("the bottom\n".utf8))

        // Names: maximal length, shell metacharacters, UTF-8, and bytes that
        // are not UTF-8 at all (created through raw-byte syscalls).
        try dir("names")
        try file("names" / ByteString(String(repeating: "n", count: 255)), Array("255 bytes\n".utf8))
        try dir("names" / ByteString(String(repeating: "D", count: 255)))
        try file("names" / ByteString(String(repeating: "D", count: 255)) / ByteString(String(repeating: "f", count: 255)), Array("long/long\n".utf8))
        try file("names" / ByteString(String(repeating: "日", count: 85)), Array("85 × 3 bytes\n".utf8))
        for name in [
            "with space", "new\nline", "tab\tname", "double\"quote", "single'quote", "dollar$HOME", "star*", "question?",
            "back\\slash", "semi;colon", "[brackets]", "-leading-dash", ".hidden", "Grüße", "日本", "emoji-😀", "trailing-space ",
        ] {
            try file("names" / ByteString(name), Array("name: \(name)\n".utf8))
        }
        try file(FixtureTree.nonUTF8Name, Array("not utf-8\n".utf8))
        try dir(FixtureTree.nonUTF8Directory)
        try file(FixtureTree.nonUTF8Directory / ByteString([UInt8]("inner-".utf8) + [0x80, 0xc0, 0x2e]), Array("inner\n".utf8))

        // Names whose byte order differs from other orders (case, punctuation,
        // UTF-8 lead bytes): the kernel's directory lookup depends on strcmp order.
        try dir("order")
        for name in ["a", "A", "aa", "a.b", "a-b", "a_b", "a b", "ab", "b", "B", "Z", "z", "~", "é", "É", "0", "9", "_"] {
            try file("order" / ByteString(name), Array(name.utf8))
        }

        // Symlinks.
        try dir("links")
        try symlink(FixtureTree.symlinkRelative, to: "../sizes/one-byte")
        try symlink("links/absolute", to: "/usr/src/linux")
        try symlink("links/dangling", to: "does/not/exist")
        try symlink("links/to-directory", to: "../deep")
        try symlink("links/self-loop", to: "self-loop")
        try symlink("links/odd-target", to: ByteString([UInt8]("target with space and ".utf8) + [0xff]))
        let longTarget = String(repeating: "long-target-component/", count: 45) + String(repeating: "x", count: 10)
        precondition(longTarget.utf8.count == 1000)
        try symlink(FixtureTree.symlinkLong, to: ByteString(longTarget))

        // Hard links: a pair, and a multi-block triple across directories.
        try dir("hardlinks")
        try dir("hardlinks/sub")
        try file(FixtureTree.hardLinkPair[0], Content.text(5000, seed: 400))
        try hardLink(FixtureTree.hardLinkPair[1], to: FixtureTree.hardLinkPair[0])
        try file(FixtureTree.hardLinkTriple[0], Content.text(large ? FixtureTree.MiB + 5 : 20_000, seed: 401), mode: 0o640)
        try hardLink(FixtureTree.hardLinkTriple[1], to: FixtureTree.hardLinkTriple[0])
        try hardLink(FixtureTree.hardLinkTriple[2], to: FixtureTree.hardLinkTriple[0])

        // Special files: a FIFO always, device nodes as root only.
        try dir("special")
        try FS.mkfifo(path(FixtureTree.fifo))
        try FS.chmod(path(FixtureTree.fifo), 0o640)
        created.append(FixtureTree.fifo)
        if geteuid() == 0 {
            try FS.mknod(path("special/char-null"), type: mode_t(S_IFCHR), mode: 0o666, device: FS.makeDevice(major: 1, minor: 3))
            try FS.mknod(path("special/block-loop"), type: mode_t(S_IFBLK), mode: 0o660, device: FS.makeDevice(major: 7, minor: 0))
            try FS.mknod(path("special/char-big-minor"), type: mode_t(S_IFCHR), mode: 0o600, device: FS.makeDevice(major: 10, minor: 300))
            created += ["special/char-null", "special/block-loop", "special/char-big-minor"]
            devices = true
        }

        // Modes.
        try dir("modes")
        try file("modes/m0644", Array("0644\n".utf8), mode: 0o644)
        try file("modes/m0600", Array("0600\n".utf8), mode: 0o600)
        try file("modes/m0755", Array("#!/bin/sh\n".utf8), mode: 0o755)
        try file("modes/m0444", Array("0444\n".utf8), mode: 0o444)
        try file("modes/m4755-setuid", Array("setuid\n".utf8), mode: 0o4755)
        try file("modes/m2711-setgid", Array("setgid\n".utf8), mode: 0o2711)
        try dir("modes/d1777-sticky", mode: 0o1777)
        try file("modes/d1777-sticky/inside", Array("in sticky\n".utf8), mode: 0o666)
        try dir("modes/d0750", mode: 0o750)
        try dir("modes/d0555-readonly-empty", mode: 0o555)

        // Ownership samples (root-owned here; see chownSamples).
        try dir("ownership")
        try file("ownership/owned-file", Array("owned\n".utf8), mode: 0o640)
        try dir("ownership/owned-dir", mode: 0o750)
        try symlink("ownership/owned-link", to: "owned-file")
        try file("ownership/root-file", Array("root\n".utf8))

        // Times: the epoch, 2030, and a symlink with its own time.
        try dir("times")
        try file("times/epoch-zero", Array("1970\n".utf8))
        try file("times/year-2030", Array("2030\n".utf8))
        try symlink("times/link-epoch-zero", to: "epoch-zero")
        mtimes["times/epoch-zero"] = 0
        mtimes["times/year-2030"] = FixtureTree.newestMtime
        mtimes["times/link-epoch-zero"] = 0
        mtimes["times"] = 86_400
        mtimes["empty"] = 0

        try setTimes()
    }

    /// Every entry gets a distinct mtime, deepest entries first so that
    /// setting a child's time cannot disturb its directory's.
    private func setTimes() throws {
        let ordered = created.enumerated().sorted { lhs, rhs in
            let depthL = lhs.element.bytes.filter { $0 == UInt8(ascii: "/") }.count
            let depthR = rhs.element.bytes.filter { $0 == UInt8(ascii: "/") }.count
            return depthL != depthR ? depthL > depthR : lhs.offset < rhs.offset
        }
        for (index, relative) in ordered {
            let seconds = mtimes[relative] ?? FixtureTree.baseMtime + index * 3607
            try FS.setModificationTime(path(relative), seconds: seconds)
        }
        // Hard links share one inode: give each group one time explicitly.
        try FS.setModificationTime(path(FixtureTree.hardLinkPair[0]), seconds: FixtureTree.baseMtime + 11)
        try FS.setModificationTime(path(FixtureTree.hardLinkTriple[0]), seconds: FixtureTree.baseMtime + 22)
        // Directories last: their mtimes changed while children were created.
        for (index, relative) in ordered where FS.isDirectory(path(relative)) {
            let seconds = mtimes[relative] ?? FixtureTree.baseMtime + index * 3607
            try FS.setModificationTime(path(relative), seconds: seconds)
        }
        try FS.setModificationTime(root, seconds: FixtureTree.rootMtime)
    }
}
