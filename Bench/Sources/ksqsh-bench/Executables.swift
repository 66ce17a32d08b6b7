import Foundation
import Glibc
import SystemSupport

/// Finding the programs to measure. posix_spawn takes a path, and the table
/// header prints it, so the reader knows exactly which binaries ran.
enum Executables {
    /// The first executable `name` on PATH, like the shell would pick.
    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").lazy
            .map { "\($0)/\(name)" }
            .first(where: isExecutable)
    }

    static func isExecutable(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFREG && access(path, X_OK) == 0
    }

    /// The ksqsh `make build` wrote, .build/release/ksqsh: `make bench-tool`
    /// builds this binary below the same .build (in .build/bench), so that is
    /// the nearest .build above it; outside one, the ksqsh beside it.
    /// /proc/self/exe is used because argv[0] may be a bare name found
    /// through PATH.
    static var builtKsqsh: String {
        let own = ProcessEnvironment.executablePath ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: own).deletingLastPathComponent()
        let beside = directory.appendingPathComponent("ksqsh").path
        while directory.path != "/" {
            if directory.lastPathComponent == ".build" { return directory.appendingPathComponent("release/ksqsh").path }
            directory.deleteLastPathComponent()
        }
        return beside
    }
}

/// The three programs under test, located once before any work starts so a
/// forgotten `swift build` or missing package fails at once, not after the
/// minute-long unpack and warm-up.
struct Toolset {
    let ksqshPath: String
    let ksqsh: String?
    let mksquashfs: String?
    let gensquashfs: String?

    init(ksqshPath: String) {
        self.ksqshPath = ksqshPath
        ksqsh = Executables.isExecutable(ksqshPath) ? ksqshPath : nil
        mksquashfs = Executables.find("mksquashfs")
        gensquashfs = Executables.find("gensquashfs")
    }

    /// One sentence per missing program, saying how to get it.
    var missing: [String] {
        var problems: [String] = []
        if ksqsh == nil {
            problems.append(
                "ksqsh not found at \(ksqshPath) (build it with `make build` or pass --ksqsh PATH)")
        }
        if mksquashfs == nil { problems.append("mksquashfs not found on PATH (install squashfs-tools: `make deps`)") }
        if gensquashfs == nil {
            problems.append("gensquashfs not found on PATH (install squashfs-tools-ng: `make deps`)")
        }
        return problems
    }
}

/// Reading back what a child wrote.
enum Logs {
    /// The last lines of a log, indented, for quoting in an error. Bounded so
    /// a tool that printed megabytes cannot flood the report.
    static func tail(of path: String, lines: Int = 20, bytes: Int = 4096) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "    | (no output captured)" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > UInt64(bytes) ? size - UInt64(bytes) : 0)
        let data = (try? handle.readToEnd()) ?? Data()
        let text = String(decoding: data, as: UTF8.self)
        let kept = text.split(separator: "\n").suffix(lines)
        if kept.isEmpty { return "    | (no output)" }
        return kept.map { "    | \($0)" }.joined(separator: "\n")
    }

    /// First line of stdout, e.g. "mksquashfs version 4.5.1 (2022/03/17)".
    static func firstLine(of path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return text.split(separator: "\n").first.map(String.init)
    }
}
