import Foundation
import Glibc

/// A kernel tree changed the way an upgrade changes it, from a fixed seed:
/// a hard-linked copy of the tree (seconds, no second 1.5 GB) in which every
/// edited file is written anew and renamed over its link, so the original
/// tree is never touched.
struct UpgradeEdits {
    enum Pattern: String {
        /// As a stable point release: ~0.3 % of the files edited, a few
        /// related files in each of a few dozen directories (lines inserted
        /// and deleted, some files grown past a fragment block, some cut),
        /// 20 files added, 20 removed, one directory renamed.
        case pointRelease = "point release"
        /// The worst case: 0.5 % of the files edited at random across the
        /// whole tree, one line inserted in each.
        case scattered = "0.5 % scattered"
    }

    /// What was done, for the report.
    struct Summary: CustomStringConvertible {
        var edited = 0
        var added = 0
        var removed = 0
        var renamedDirectory: String?
        var directories = 0

        var description: String {
            var parts = ["\(edited) files edited" + (directories > 0 ? " in \(directories) directories" : "")]
            if added > 0 { parts.append("\(added) added") }
            if removed > 0 { parts.append("\(removed) removed") }
            if let renamedDirectory { parts.append("\(renamedDirectory)/ renamed") }
            return parts.joined(separator: ", ")
        }
    }

    let pattern: Pattern
    static let seed: UInt64 = 0x6b73_7173_6832_3032  // fixed: every run edits the same files the same way

    /// Copies `tree` to `copy` (hard links) and edits the copy.
    func make(from tree: String, at copy: String, logDirectory: String) throws -> Summary {
        try? FileManager.default.removeItem(atPath: copy)
        let cp = ChildProcess(
            executable: "/bin/cp", arguments: ["-al", tree, copy],
            stdoutPath: "\(logDirectory)/cp.stdout", stderrPath: "\(logDirectory)/cp.stderr")
        guard try cp.run().termination.succeeded else { throw BenchError("cp -al \(tree) \(copy) failed:\n\(Logs.tail(of: cp.stderrPath))") }

        var random = SplitMix64(seed: Self.seed)
        let files = try Self.regularFiles(below: copy)
        var summary = Summary()
        switch pattern {
        case .pointRelease:
            let byDirectory = Dictionary(grouping: files) { ($0 as NSString).deletingLastPathComponent }
            let directories = byDirectory.keys.filter { byDirectory[$0]!.count >= 4 }.sorted()
            let target = files.count * 3 / 1000
            var chosen = Set<String>()
            while summary.edited < target {
                let directory = directories[random.below(directories.count)]
                guard chosen.insert(directory).inserted else { continue }
                let members = byDirectory[directory]!.sorted()
                let start = random.below(members.count)
                for offset in 0..<min(2 + random.below(6), members.count) where summary.edited < target {
                    try edit("\(copy)/\(members[(start + offset) % members.count])", &random, grow: random.below(8) == 0)
                    summary.edited += 1
                }
            }
            summary.directories = chosen.count
            for _ in 0..<20 {
                let template = files[random.below(files.count)]
                let bytes = try Data(contentsOf: URL(fileURLWithPath: "\(copy)/\(template)"))
                let directory = (directories[random.below(directories.count)])
                try replace("\(copy)/\(directory)/new-in-point-release-\(summary.added).c", with: Data("/* new */\n".utf8) + bytes)
                summary.added += 1
            }
            for _ in 0..<20 {
                let victim = "\(copy)/\(files[random.below(files.count)])"
                if unlink(victim) == 0 { summary.removed += 1 }
            }
            // A leaf directory of a few dozen files, as a driver's is when it moves.
            let leaves = directories.filter { directory in
                let count = byDirectory[directory]!.count
                return count >= 10 && count <= 60 && !directories.contains { $0.hasPrefix(directory + "/") }
            }
            let renamed = leaves[random.below(leaves.count)]
            guard rename("\(copy)/\(renamed)", "\(copy)/\(renamed)-renamed") == 0 else {
                throw BenchError("cannot rename \(copy)/\(renamed): \(String(cString: strerror(errno)))")
            }
            summary.renamedDirectory = renamed
        case .scattered:
            var chosen = Set<Int>()
            while chosen.count < files.count * 5 / 1000 { chosen.insert(random.below(files.count)) }
            for index in chosen.sorted() {
                try edit("\(copy)/\(files[index])", &random, grow: false)
                summary.edited += 1
            }
        }
        return summary
    }

    /// A line inserted at a random place; or a line range deleted; with
    /// `grow`, 2 to 40 KB appended (past the file's fragment block).
    private func edit(_ path: String, _ random: inout SplitMix64, grow: Bool) throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let at = bytes.isEmpty ? 0 : random.below(bytes.count)
        if grow {
            let line = Data("/* grown in this release: \(random.next()) */\n".utf8)
            for _ in 0..<(2048 + random.below(38 * 1024)) / line.count { bytes.append(line) }
        } else if random.below(4) == 0, bytes.count > 200 {
            bytes.removeSubrange(at..<min(at + 40 + random.below(160), bytes.count))
        } else {
            bytes.insert(contentsOf: Data("\t/* changed: \(random.next()) */\n".utf8), at: at)
        }
        try replace(path, with: bytes)
    }

    /// Writes beside and renames over, so a hard link to the original stays as it was.
    private func replace(_ path: String, with bytes: Data) throws {
        let temporary = path + ".edit"
        try bytes.write(to: URL(fileURLWithPath: temporary))
        guard rename(temporary, path) == 0 else { throw BenchError("cannot rename \(temporary): \(String(cString: strerror(errno)))") }
    }

    /// Regular files below `root`, relative to it, sorted (the seed picks by index).
    private static func regularFiles(below root: String) throws -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: root) else { throw BenchError("cannot list \(root)") }
        var files: [String] = []
        while let relative = walker.nextObject() as? String {
            if (walker.fileAttributes?[.type] as? FileAttributeType) == .typeRegular { files.append(relative) }
        }
        return files.sorted()
    }
}

/// A small, fast, seedable generator (Steele et al., 2014): the same seed
/// gives the same edits on every machine.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}
