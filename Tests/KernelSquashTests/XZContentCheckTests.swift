import ImageEngine
import Testing

/// `XZContentCheck`: the length and CRC32 an xz stream records for its
/// content, read without decompressing it; what `squash --reuse` takes a
/// block on when a verify follows. Streams made by xz(1), as libsquashfs
/// makes them: one block, CRC32 check.
@Suite("xz content checks")
struct XZContentCheckTests {
    /// Text-like bytes, the same on every run.
    private static func content(_ count: Int) -> [UInt8] {
        let words = ["static", "int", "struct", "return", "{", "}", "(void)", "0x1f", "\n\t", "kernel", ";"].map { Array($0.utf8) + [32] }
        var bytes: [UInt8] = []
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        while bytes.count < count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            bytes += words[Int(state >> 59) % words.count]
        }
        return Array(bytes.prefix(count))
    }

    /// `content` compressed by `xz -6 -T1` with `arguments`.
    private static func stream(_ content: [UInt8], _ arguments: [ByteString]) throws -> [UInt8] {
        let work = try Workspace("xz-check")
        defer { work.remove() }
        try FS.writeFile(work["content"], content)
        try Subprocess.runChecked("xz", ["-z", "-k", "-6", "-T1"] + arguments + [work["content"]])
        return try FS.readFile(work["content.xz"])
    }

    private static func check(ofStream bytes: [UInt8]) -> XZContentCheck? {
        bytes.withUnsafeBytes { XZContentCheck(stream: $0) }
    }

    private static func check(ofContent bytes: [UInt8]) -> XZContentCheck {
        bytes.withUnsafeBytes { XZContentCheck(content: $0) }
    }

    @Test("A one-block CRC32 stream gives its content's length and CRC32, and no other content's")
    func oneBlock() throws {
        let content = Self.content(300_000)
        let stored = Self.check(ofStream: try Self.stream(content, ["--check=crc32"]))
        #expect(stored == Self.check(ofContent: content))
        #expect(stored?.length == 300_000)
        var edited = content
        edited[150_000] ^= 1
        #expect(stored != Self.check(ofContent: edited))
        #expect(stored != Self.check(ofContent: Array(content.dropLast())))
    }

    @Test("Another check, several blocks or a damaged index or footer give none: the block is decompressed instead")
    func refused() throws {
        let content = Self.content(300_000)
        for arguments: [ByteString] in [["--check=crc64"], ["--check=sha256"], ["--check=none"], ["--check=crc32", "--block-size=100000"]] {
            #expect(Self.check(ofStream: try Self.stream(content, arguments)) == nil, "\(arguments)")
        }
        let good = try Self.stream(content, ["--check=crc32"])
        #expect(Self.check(ofStream: good) != nil)
        var badIndex = good
        badIndex[good.count - 12 - 6] ^= 0x40  // inside the index, before its own CRC32
        #expect(Self.check(ofStream: badIndex) == nil)
        var badFooter = good
        badFooter[good.count - 1] ^= 0xFF
        #expect(Self.check(ofStream: badFooter) == nil)
        #expect(Self.check(ofStream: Array(good.dropLast(4))) == nil)
        #expect(Self.check(ofStream: Array(good.prefix(20))) == nil)
    }
}
