import Glibc
import Testing

/// What `ksqsh squash --reuse` said it took: "reused N of M blocks".
struct ReuseCount: CustomStringConvertible {
    let reused: Int
    let stored: Int

    var description: String { "reused \(reused) of \(stored) blocks" }

    init(_ result: ProcessResult) throws {
        let text = result.stdoutText
        guard let range = text.range(of: "reused "), let end = text[range.upperBound...].range(of: " blocks") else {
            throw TestSetupError("no 'reused N of M blocks' in the squash summary: \(result)")
        }
        let words = text[range.upperBound..<end.lowerBound].split(separator: " ")
        guard words.count == 3, let reused = Int(words[0]), let stored = Int(words[2]) else {
            throw TestSetupError("cannot read the reuse count in: \(text)")
        }
        self.reused = reused
        self.stored = stored
    }
}

/// Edits a copy of a kernel tree the ways an upgrade does, always the same
/// way (files picked by their place in the sorted listing, no randomness).
enum TreeChange: String, CaseIterable, Sendable, CustomTestStringConvertible {
    /// The same tree again (a reinstall).
    case nothing
    /// As a stable point release changes a kernel: a few related files in
    /// each of six directories edited (a line inserted, a file grown by
    /// 2.5 KB, a file cut in half), three files added and three removed
    /// elsewhere; 24 files, 0.4 % of the skeleton's. (The tests use 128 KiB
    /// blocks, an eighth of the default, so the growth is an eighth of the
    /// bench's 20 KB: fragment boundaries scale with the block size.)
    case pointRelease
    /// One file in the middle of the tree grown by 2.5 KB.
    case oneFileGrown
    /// scripts/dtc, with its ~100 files, renamed.
    case renamedDirectory
    /// A line appended to every file: no fragment block stays the same.
    case everyFile

    var testDescription: String { rawValue }

    /// Applies the change; returns how many files were edited, added or removed.
    @discardableResult
    func apply(to tree: ByteString) throws -> Int {
        let files = try Self.regularFiles(in: tree)
        switch self {
        case .nothing:
            return 0
        case .pointRelease:
            let byDirectory = Dictionary(grouping: files) { $0.directory }
            let directories = byDirectory.keys.filter { byDirectory[$0]!.count >= 6 }.sorted()
            var changed = 0
            for directory in stride(from: 0, to: directories.count, by: directories.count / 6).prefix(6).map({ directories[$0] }) {
                for (number, file) in byDirectory[directory]!.sorted().prefix(3).enumerated() {
                    let path = tree / file
                    var bytes = try FS.readFile(path)
                    switch number {
                    case 0: bytes.insert(contentsOf: Array("/* changed in this point release */\n".utf8), at: bytes.count / 2)
                    case 1: bytes += Self.growth
                    default: bytes = Array(bytes.prefix(bytes.count / 2))
                    }
                    try FS.writeFile(path, bytes)
                    changed += 1
                }
            }
            for number in [1, 3, 5] {
                let removed = files[files.count * number / 6 + 1]
                try FS.unlink(tree / removed)
                let added = files[files.count * number / 6 + 7].directory / ByteString("added-in-point-release-\(number).c")
                try FS.writeFile(tree / added, Array("int added_in_point_release_\(number);\n".utf8))
                changed += 2
            }
            return changed
        case .oneFileGrown:
            let path = tree / files[files.count / 2]
            try FS.writeFile(path, try FS.readFile(path) + Self.growth)
            return 1
        case .renamedDirectory:
            try FS.rename(tree / "scripts/dtc", tree / "scripts/dtc-renamed")
            return files.filter { $0.string.hasPrefix("scripts/dtc/") }.count
        case .everyFile:
            for file in files {
                try FS.writeFile(tree / file, try FS.readFile(tree / file) + Array("\n".utf8))
            }
            return files.count
        }
    }

    private static let growth = Array(repeating: Array("grown in this point release\n".utf8), count: 90).flatMap { $0 }

    /// Paths of the regular files below `tree`, relative to it, sorted.
    static func regularFiles(in tree: ByteString) throws -> [ByteString] {
        let listing = try Subprocess.runChecked("find", [tree, "-type", "f", "-printf", "%P\\n"])
        return listing.stdout.split(separator: UInt8(ascii: "\n")).map { ByteString(Array($0)) }.sorted()
    }
}

extension ByteString {
    /// The directory part of a relative path ("" for a name alone).
    fileprivate var directory: ByteString {
        bytes.lastIndex(of: UInt8(ascii: "/")).map { ByteString(Array(bytes[..<$0])) } ?? ""
    }
}

/// The fragment table of an image ksqsh wrote (stored raw: ksqsh writes
/// it uncompressed), read and patched by hand, so tests can damage or
/// re-encode single fragment blocks without any squashfs library.
struct RawFragmentTable {
    struct Entry {
        /// Where the entry's 16 bytes are in the image.
        let entryOffset: Int
        let start: Int
        let sizeWord: UInt32

        var storedBytes: Int { Int(sizeWord & 0x00FF_FFFF) }
        var isCompressed: Bool { sizeWord & (1 << 24) == 0 }
    }

    let entries: [Entry]

    init(_ image: [UInt8]) throws {
        let superBlock = try SuperBlock(image)
        let count = Int(superBlock.fragmentCount)
        let blocks = (count + 511) / 512
        var entries: [Entry] = []
        for block in 0..<blocks {
            let location = Int(SuperBlock.u64(image, Int(superBlock.fragmentTableStart) + 8 * block))
            let header = SuperBlock.u16(image, location)
            guard header & 0x8000 != 0 else { throw TestSetupError("the fragment table's block \(block) is compressed; ksqsh stores it raw") }
            for index in 0..<min(512, count - 512 * block) {
                let offset = location + 2 + 16 * index
                entries.append(Entry(entryOffset: offset, start: Int(SuperBlock.u64(image, offset)), sizeWord: SuperBlock.u32(image, offset + 8)))
            }
        }
        self.entries = entries
    }

    /// Points `entry` at `bytes`, written where its block was (they must
    /// not be longer).
    static func replace(_ entry: Entry, with bytes: [UInt8], compressed: Bool, in image: inout [UInt8]) {
        precondition(bytes.count <= entry.storedBytes)
        image.replaceSubrange(entry.start..<entry.start + bytes.count, with: bytes)
        let word = UInt32(bytes.count) | (compressed ? 0 : 1 << 24)
        for byte in 0..<4 { image[entry.entryOffset + 8 + byte] = UInt8(truncatingIfNeeded: word >> (8 * byte)) }
    }
}
