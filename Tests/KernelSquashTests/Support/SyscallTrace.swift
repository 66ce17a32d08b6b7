/// The calls of an `strace -f -y -qq -o FILE` run that change names or make
/// them durable, in order, with the paths they act on: the record a
/// crash-consistency check reads. `-y` annotates each descriptor with its
/// path (`3</usr/src/build-KV>`), so a call relative to a directory
/// descriptor resolves to an absolute path.
struct SyscallTrace {
    struct Call: CustomStringConvertible {
        let index: Int
        let name: String
        /// The paths named, absolute: `"path"` arguments joined to the
        /// descriptor before them (or taken as they are after AT_FDCWD), and
        /// annotated descriptors that stand alone (what fsync syncs).
        let paths: [String]
        let line: String
        var description: String { line }
    }

    let calls: [Call]

    init(_ bytes: [UInt8]) {
        var calls: [Call] = []
        for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
            // "PID name(arguments) = result"; unfinished and resumed halves are left out (-qq keeps them rare).
            guard !line.contains("<unfinished") && !line.contains("resumed>"),
                let open = line.firstIndex(of: "("), line.hasSuffix(" = 0")
            else { continue }
            let name = line[..<open].split(separator: " ").last.map(String.init) ?? ""
            calls.append(Call(index: calls.count, name: name, paths: Self.paths(in: line[line.index(after: open)...]), line: String(line)))
        }
        self.calls = calls
    }

    /// Walks the argument list: a descriptor `N<path>` followed by a
    /// string names path/string; a lone descriptor names its path.
    private static func paths(in arguments: Substring) -> [String] {
        var paths: [String] = []
        var pendingDirectory: String?
        var rest = arguments
        while let next = rest.firstIndex(where: { $0 == "<" || $0 == "\"" }) {
            if rest[next] == "<" {
                if let directory = pendingDirectory { paths.append(directory) }
                guard let close = rest[next...].firstIndex(of: ">") else { break }
                pendingDirectory = String(rest[rest.index(after: next)..<close])
                rest = rest[rest.index(after: close)...]
            } else {
                guard let close = rest[rest.index(after: next)...].firstIndex(of: "\"") else { break }
                let text = String(rest[rest.index(after: next)..<close])
                if text.hasPrefix("/") {
                    paths.append(text)
                } else if let directory = pendingDirectory {
                    paths.append(directory + "/" + text)
                }
                pendingDirectory = nil
                rest = rest[rest.index(after: close)...]
            }
        }
        if let directory = pendingDirectory { paths.append(directory) }
        return paths
    }

    /// The first call named one of `names` at or after `start` that acts on `path`.
    func first(_ names: Set<String>, on path: String, from start: Int = 0) -> Call? {
        calls.dropFirst(start).first { names.contains($0.name) && $0.paths.contains(path) }
    }

    static let syncs: Set<String> = ["fsync", "fdatasync"]
    static let directoryCreations: Set<String> = ["mkdir", "mkdirat"]
    static let renames: Set<String> = ["rename", "renameat", "renameat2"]
    static let links: Set<String> = ["link", "linkat"]
    /// A symlink's "content" is its target text, written with its name.
    static let symlinks: Set<String> = ["symlink", "symlinkat"]
    static let removals: Set<String> = ["unlink", "unlinkat", "rmdir"]
}
