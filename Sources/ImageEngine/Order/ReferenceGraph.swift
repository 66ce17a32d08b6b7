import SystemSupport

/// The references a kernel build follows from one source file to the next —
/// Kconfig `source` lines and C `#include` lines — over the files of one
/// tree, so files can be ranked by when a build first reaches them.
///
/// Only the text is looked at: no conditions are evaluated, so a file
/// reached under any `#ifdef` or `if` counts as reached. That ranks a few
/// files a given configuration never reads, which costs nothing but space
/// early in the image.
final class ReferenceGraph {
    enum Edges {
        /// `source`/`osource` (from the top) and `rsource`/`orsource` (from
        /// the file's directory); `$(SRCARCH)` stands for each of `arches`.
        case kconfigSources(arches: [String])
        /// `#include <…>` and `#include "…"` resolved like a compiler given
        /// `directories` as `-I` flags: the including file's directory
        /// first (quotes only), then each of `directories`; with
        /// `genericAsm`, asm-generic last for the `asm/` headers the kernel
        /// build generates as wrappers.
        case includes(directories: [String], genericAsm: Bool)
    }

    /// Files larger than this are not parsed: no Kconfig file or header comes near.
    static let largestParsed: UInt64 = 1 << 20

    private let paths: [String]
    private let index: [String: Int]
    private let contents: (Int) -> [UInt8]?
    private var kconfigLines: [Int: [KconfigSource]] = [:]
    private var includeLines: [Int: [Include]] = [:]

    init(paths: [String], contents: @escaping (Int) -> [UInt8]?) {
        self.paths = paths
        index = Dictionary(paths.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        self.contents = contents
    }

    /// The index of `path`, if the tree has such a file.
    func index(of path: String) -> Int? { index[path] }

    /// The path of the file at `file`.
    func path(of file: Int) -> String { paths[file] }

    /// The paths `pattern` names, in tree order: `pattern` itself if it is a
    /// file, or for `directory/*suffix` the files directly in `directory`
    /// whose names end in `suffix`.
    func paths(matching pattern: String) -> [String] {
        guard let star = pattern.firstRange(of: "/*") else { return index[pattern] == nil ? [] : [pattern] }
        let directory = String(pattern[..<star.lowerBound])
        let suffix = pattern[star.upperBound...]
        return (filesByDirectory[directory] ?? []).map { paths[$0] }.filter { $0.hasSuffix(suffix) }
    }

    /// The paths that start with `prefix`, in tree order.
    func paths(under prefix: String) -> [String] { paths.filter { $0.hasPrefix(prefix) } }

    /// Files directly in each directory, in tree order; built on first use.
    private lazy var filesByDirectory: [String: [Int]] = Dictionary(grouping: paths.indices) { directory(of: paths[$0]) }

    /// The directories under arch/, `leading` first (if present), then by name.
    func arches(leading: String) -> [String] {
        var names = Set<String>()
        for path in paths where path.hasPrefix("arch/") {
            let parts = path.split(separator: "/", maxSplits: 2)
            if parts.count == 3 { names.insert(String(parts[1])) }
        }
        return names.sorted { a, b in a == leading || (b != leading && a < b) }
    }

    /// Rank (0, 1, …) of every file reached from `seeds`, depth first in
    /// reference order: the order a single reader following them opens files.
    func firstReach(from seeds: [String], following edges: Edges) -> [Int: Int] {
        var ranks: [Int: Int] = [:]
        extendFirstReach(&ranks, from: seeds, following: edges)
        return ranks
    }

    /// Like `firstReach`, adding files not ranked yet after those that are.
    /// The walk itself starts afresh, so a second arch reaches its own
    /// headers through generic ones the first arch ranked already.
    func extendFirstReach(_ ranks: inout [Int: Int], from seeds: [String], following edges: Edges) {
        var visited = Set<Int>()
        var stack = seeds.reversed().compactMap { index[$0] }
        while let file = stack.popLast() {
            guard visited.insert(file).inserted else { continue }
            if ranks[file] == nil { ranks[file] = ranks.count }
            stack.append(contentsOf: references(of: file, edges).reversed())
        }
    }

    private func references(of file: Int, _ edges: Edges) -> [Int] {
        switch edges {
        case .kconfigSources(let arches):
            return kconfigSources(of: file).flatMap { source -> [Int] in
                let base = source.relative ? directory(of: paths[file]) : ""
                return expand(source.path, arches: arches).compactMap { index[normalized(join(base, $0))] }
            }
        case .includes(let directories, let genericAsm):
            return includes(of: file).compactMap { resolve($0, from: paths[file], directories: directories, genericAsm: genericAsm) }
        }
    }

    private func resolve(_ include: Include, from file: String, directories: [String], genericAsm: Bool) -> Int? {
        var candidates: [String] = []
        if include.quoted { candidates.append(normalized(join(directory(of: file), include.name))) }
        candidates += directories.map { "\($0)/\(include.name)" }
        if genericAsm, include.name.hasPrefix("asm/") {
            let header = include.name.dropFirst(4)
            candidates += ["include/asm-generic/\(header)", "include/uapi/asm-generic/\(header)"]
        }
        return candidates.lazy.compactMap { self.index[$0] }.first
    }

    /// `$(SRCARCH)` and `$(HEADER_ARCH)` (UML) once per arch; a path with
    /// any other variable cannot be resolved without running make.
    private func expand(_ path: String, arches: [String]) -> [String] {
        guard path.contains("$(") else { return [path] }
        let variables = ["$(SRCARCH)", "$(HEADER_ARCH)"]
        let expanded = arches.map { arch in variables.reduce(path) { $0.replacing($1, with: arch) } }
        return expanded.filter { !$0.contains("$(") }
    }

    // MARK: - Parsing, once per file

    private func kconfigSources(of file: Int) -> [KconfigSource] {
        parsed(file, cache: &kconfigLines, KconfigSource.all(in:))
    }

    private func includes(of file: Int) -> [Include] {
        parsed(file, cache: &includeLines, Include.all(in:))
    }

    private func parsed<Line>(_ file: Int, cache: inout [Int: [Line]], _ parse: ([UInt8]) -> [Line]) -> [Line] {
        if let known = cache[file] { return known }
        let found = text(of: file).map(parse) ?? []
        cache[file] = found
        return found
    }

    private func text(of file: Int) -> [UInt8]? {
        guard let bytes = contents(file), UInt64(bytes.count) <= Self.largestParsed else { return nil }
        return bytes
    }

    // MARK: - Paths

    private func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    private func join(_ directory: String, _ path: String) -> String {
        directory.isEmpty ? path : "\(directory)/\(path)"
    }

    /// Resolves `.` and `..` lexically; a path climbing above the top stays unresolvable.
    private func normalized(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/") {
            if part == "." { continue }
            if part == ".." {
                if parts.popLast() == nil { return "../\(path)" }
                continue
            }
            parts.append(part)
        }
        return parts.joined(separator: "/")
    }
}

/// One `source "path"` line of a Kconfig file.
struct KconfigSource: Equatable {
    let path: String
    /// rsource/orsource: relative to the including file's directory.
    let relative: Bool

    static func all(in text: [UInt8]) -> [KconfigSource] {
        text.split(separator: UInt8(ascii: "\n")).compactMap(parse)
    }

    static func parse(_ line: ArraySlice<UInt8>) -> KconfigSource? {
        var words = DirectiveLine(line)
        guard let keyword = words.word(), ["source", "osource", "rsource", "orsource"].contains(keyword),
              words.skipBlanks(), let path = words.quoted(opening: UInt8(ascii: "\""), closing: UInt8(ascii: "\""))
        else { return nil }
        return KconfigSource(path: path, relative: keyword.hasPrefix("r") || keyword.hasPrefix("or"))
    }
}

/// One `#include` line of a C source or header.
struct Include: Equatable {
    let name: String
    /// `#include "…"` (searched next to the including file first) rather than `<…>`.
    let quoted: Bool

    static func all(in text: [UInt8]) -> [Include] {
        text.split(separator: UInt8(ascii: "\n")).compactMap(parse)
    }

    static func parse(_ line: ArraySlice<UInt8>) -> Include? {
        var words = DirectiveLine(line)
        guard words.consume(UInt8(ascii: "#")), words.word() == "include" else { return nil }
        _ = words.skipBlanks()
        if let name = words.quoted(opening: UInt8(ascii: "<"), closing: UInt8(ascii: ">")) {
            return Include(name: name, quoted: false)
        }
        if let name = words.quoted(opening: UInt8(ascii: "\""), closing: UInt8(ascii: "\"")) {
            return Include(name: name, quoted: true)
        }
        return nil
    }
}

/// A cursor over one line, for the two directive shapes above.
private struct DirectiveLine {
    private var rest: ArraySlice<UInt8>

    init(_ line: ArraySlice<UInt8>) { rest = line }

    /// Skips spaces and tabs; true if there were any.
    mutating func skipBlanks() -> Bool {
        let before = rest.count
        rest = rest.drop { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        return rest.count < before
    }

    /// The next run of letters after optional blanks.
    mutating func word() -> String? {
        _ = skipBlanks()
        let letters = rest.prefix { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }
        guard !letters.isEmpty else { return nil }
        rest = rest.dropFirst(letters.count)
        return String(decoding: letters, as: UTF8.self)
    }

    /// Consumes `byte` after optional blanks.
    mutating func consume(_ byte: UInt8) -> Bool {
        _ = skipBlanks()
        guard rest.first == byte else { return false }
        rest = rest.dropFirst()
        return true
    }

    /// The text between `opening` (next) and `closing` (later on the line).
    mutating func quoted(opening: UInt8, closing: UInt8) -> String? {
        guard rest.first == opening else { return nil }
        let body = rest.dropFirst()
        guard let end = body.firstIndex(of: closing), end > body.startIndex else { return nil }
        rest = body[body.index(after: end)...]
        return String(decoding: body[..<end], as: UTF8.self)
    }
}
