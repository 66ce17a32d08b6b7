import SystemPackage
import SystemSupport

/// `--sort-file FILE`: the data order for trees the kernel rules know
/// nothing about, in mksquashfs's sort-file format, so existing files work:
/// one "PATH PRIORITY" per line, PATH relative to the source, PRIORITY an
/// integer; higher priorities are stored first, unlisted files count as 0,
/// and equal priorities keep the layout's order. A directory's priority
/// applies to every file below it that has none of its own.
public struct SortFile: Sendable {
    private let priorities: [[UInt8]: Int]

    public init(contentsOf path: FilePath) throws {
        let bytes = try readFileBytes(path)
        var priorities: [[UInt8]: Int] = [:]
        for (number, line) in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            guard !line.isEmpty, line.first != UInt8(ascii: "#") else { continue }
            // The priority is the last field, so names may contain spaces.
            guard let space = line.lastIndex(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }),
                let priority = Int(String(decoding: line[(space + 1)...], as: UTF8.self)),
                (-32768...32767).contains(priority)
            else {
                throw KsqshError(.sourceUnreadable, path: path, "line \(number + 1) is not 'PATH PRIORITY' (priority -32768 to 32767)")
            }
            var name = Array(line[..<space])
            while name.last == UInt8(ascii: " ") || name.last == UInt8(ascii: "\t") { name.removeLast() }
            while name.starts(with: Array("./".utf8)) { name.removeFirst(2) }
            while name.last == UInt8(ascii: "/") { name.removeLast() }
            priorities[name] = priority
        }
        self.priorities = priorities
    }

    /// `files` by priority, highest first; stable, so ties keep their order.
    func apply(to files: [TreeNode]) -> [TreeNode] {
        guard !priorities.isEmpty else { return files }
        let ranked = files.enumerated().map { (position: $0.offset, priority: priority(of: $0.element.relativePath), node: $0.element) }
        return ranked.sorted { ($0.priority, -$0.position) > ($1.priority, -$1.position) }.map(\.node)
    }

    /// The file's own priority, else that of its nearest listed directory, else 0.
    private func priority(of path: [UInt8]) -> Int {
        var candidate = path[...]
        while true {
            if let priority = priorities[Array(candidate)] { return priority }
            guard let slash = candidate.lastIndex(of: UInt8(ascii: "/")) else { return 0 }
            candidate = candidate[..<slash]
        }
    }
}
