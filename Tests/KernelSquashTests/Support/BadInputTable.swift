import Glibc

/// The names every row is built from: each alone, and all in one.
enum HostileName {
    static let utf8: [(label: String, name: ByteString)] = [
        ("space", "with space"),
        ("newline", "new\nline"),
        ("quotes", "quo\"te's"),
        ("dollar", "$HOME$(id)"),
        ("star", "star*?[ab]"),
        ("all", "a l\n\"l'$x*"),
    ]
    /// Latin-1 "café" and a byte no encoding uses.
    static let nonUTF8: (label: String, name: ByteString) = ("non-UTF-8", ByteString(Array("caf".utf8) + [0xE9, 0xFF]))
    static var all: [(label: String, name: ByteString)] { utf8 + [nonUTF8] }

    /// How ksqsh prints a name in its one-line messages: newline, tab and
    /// other control bytes and bytes that are not UTF-8 as C escapes.
    static func displayed(_ name: ByteString) -> String {
        var text = ""
        var rest = name.bytes[...]
        while let byte = rest.first {
            let length = byte < 0x80 ? 1 : byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC2 ? 2 : 0
            if length > 1, rest.count >= length, let scalar = String(validating: Array(rest.prefix(length)), as: UTF8.self) {
                text += scalar
                rest = rest.dropFirst(length)
                continue
            }
            switch byte {
            case 0x0A: text += "\\n"
            case 0x09: text += "\\t"
            case 0x0D: text += "\\r"
            case 0x20..<0x7F: text.unicodeScalars.append(Unicode.Scalar(byte))
            default: text += "\\x" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
            }
            rest = rest.dropFirst()
        }
        return text
    }
}

/// One row: what is set up, the command line, and what must come out.
struct BadInputRow: Sendable, CustomStringConvertible {
    enum User: Sendable { case root, nobody }

    let subcommand: String
    let situation: String
    var user: User = .root
    /// The status ksqsh must exit with (0: the input is valid and must work).
    let exit: Int32
    /// Builds the situation inside the scene and returns the invocation.
    let setUp: @Sendable (BadInputScene) throws -> Invocation

    var description: String { "\(subcommand) — \(situation)\(user == .nobody ? " (as nobody)" : "")" }
}

/// What a row runs, and what it may change.
struct Invocation: Sendable {
    /// ksqsh's arguments, or with `script` the arguments of that bash script.
    var arguments: [ByteString]
    /// The path stderr must name, as ksqsh prints it.
    var naming: ByteString?
    /// Relative to ROOT: what a successful run may change.
    var changes: [ByteString] = []
    /// Relative to ROOT; nil runs in the test's own directory.
    var workingDirectory: ByteString?
    var environment: [String: String?] = [:]
    /// A bash script run instead of ksqsh (the generated hook rows).
    var script: String?
    /// Further checks of a successful run; each string is a problem.
    var check: (@Sendable (ProcessResult) throws -> [String])?
}

/// A temp ROOT (with usr/src) for one row, torn down afterwards.
final class BadInputScene: @unchecked Sendable {
    let root: LifecycleRoot
    var path: ByteString { root.path }
    static let version: ByteString = "6.12.10-gentoo"

    init() throws { root = try LifecycleRoot("bad-input") }

    subscript(_ relative: ByteString) -> ByteString { path / relative }

    /// A small tree at ROOT/name holding a file under the same odd name.
    @discardableResult
    func tree(_ name: ByteString) throws -> ByteString {
        let tree = self[name]
        try FS.mkdirs(tree / "sub")
        try FS.writeFile(tree / "plain", Array("plain\n".utf8))
        try FS.writeFile(tree / "sub" / name.lastComponent, Array("odd name inside\n".utf8))
        try FS.symlink(target: "sub/" + name.lastComponent, at: tree / "link")
        return tree
    }

    /// ROOT/name.sqfs squashed from a tree at ROOT/name.
    @discardableResult
    func image(_ name: ByteString) throws -> ByteString {
        let image = self[name + ".sqfs"]
        try Ksqsh.squashChecked(try tree(name), image)
        return image
    }

    /// ROOT/name as a kernel root: usr/src/linux-KV.sqfs, a tiny image.
    @discardableResult
    func kernelRoot(_ name: ByteString = ".") throws -> ByteString {
        let kernelRoot = name == "." ? path : self[name]
        try FS.mkdirs(kernelRoot / "usr/src")
        try FS.writeFile(kernelRoot / "usr/src" / ("linux-" + Self.version + ".sqfs"), try BadInputScene.tinyImage())
        return kernelRoot
    }

    /// Makes ROOT and its parents traversable for nobody.
    func openToNobody() throws {
        try FS.chmod(path, 0o755)
        try FS.chmod(path.parent, 0o1777)
    }

    private static let tinyImageBytes = Result { () throws -> [UInt8] in
        let scratch = try TemporaryDirectory("bad-input-image")
        defer { scratch.remove() }
        try FS.mkdir(scratch["tree"])
        try FS.writeFile(scratch["tree"] / "Makefile", Array("# not a kernel\n".utf8))
        try Ksqsh.squashChecked(scratch["tree"], scratch["tiny.sqfs"])
        return try FS.readFile(scratch["tiny.sqfs"])
    }

    static func tinyImage() throws -> [UInt8] { try tinyImageBytes.get() }
}

enum BadInputTable {
    /// Runs one row in a fresh scene; returns its problems (none: passed).
    static func run(_ row: BadInputRow) -> [String] {
        let scene: BadInputScene
        do { scene = try BadInputScene() } catch { return ["cannot create the scene: \(error)"] }
        defer { scene.root.tearDown() }
        do {
            let invocation = try row.setUp(scene)
            if row.user == .nobody { try scene.openToNobody() }
            let before = try TreeListing.take(scene.path)
            let result = try execute(invocation, as: row.user, in: scene)
            var problems = outputProblems(result, row: row, invocation: invocation)
            let after = try TreeListing.take(scene.path)
            let changes = before.changes(to: after, allowing: row.exit == 0 ? invocation.changes : [])
            if !changes.isEmpty { problems.append("changed under ROOT:\n" + changes.prefix(20).joined(separator: "\n")) }
            if row.exit == 0, result.succeeded, let check = invocation.check { problems += try check(result) }
            return problems.map { "\($0)\n\(result)" }
        } catch {
            return ["setup or run failed: \(error)"]
        }
    }

    private static func execute(_ invocation: Invocation, as user: BadInputRow.User, in scene: BadInputScene) throws -> ProcessResult {
        let binary = try Ksqsh.binary()
        var command: [ByteString] = invocation.script.map { ["bash", "-c", ByteString($0), "bash"] } ?? [binary]
        command += invocation.arguments
        if let directory = invocation.workingDirectory {
            command = ["env", "-C", directory == "." ? scene.path : scene[directory], "--"] + command
        }
        if user == .nobody {
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + command
        }
        return try Subprocess.run(command[0], Array(command.dropFirst()), environment: invocation.environment, timeout: .seconds(60))
    }

    private static func outputProblems(_ result: ProcessResult, row: BadInputRow, invocation: Invocation) -> [String] {
        var problems: [String] = []
        if result.timedOut { problems.append("hung (killed after 60 s)") }
        if result.exitCode != row.exit { problems.append("exit status \(result.exitCode.map(String.init) ?? "none"), expected \(row.exit)") }
        for crash in ["Fatal error", "Stack dump", "Current stack trace", "Segmentation fault"] where result.stderrText.contains(crash) {
            problems.append("crash trace on stderr (\(crash))")
        }
        guard row.exit != 0 else { return problems }
        let lines = result.stderrLines
        if lines.count != 1 { problems.append("stderr has \(lines.count) lines, expected exactly one") }
        if let first = lines.first, !first.hasPrefix("ksqsh: ") { problems.append("stderr does not start with \"ksqsh: \"") }
        if let path = invocation.naming, !result.stderrText.contains(HostileName.displayed(path)) {
            problems.append("stderr does not name \(HostileName.displayed(path))")
        }
        return problems
    }
}
