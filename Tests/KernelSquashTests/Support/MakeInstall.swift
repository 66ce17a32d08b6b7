import Glibc
import Testing

/// Runs the repository's Makefile (`make install`, `make uninstall`) on the
/// release build that `make test` prepares.
///
/// The suite runs inside `swift test`, which holds SwiftPM's lock on .build:
/// a nested `swift build` would wait for it forever. So these tests need
/// the release binaries already built, and skip (saying so) without them;
/// `make install` then only runs them to stage its files.
enum MakeInstall {
    static let root = ByteString(Repository.root.path)
    static let ksqsh = root / ".build/release/ksqsh"
    static let generateManual = root / ".build/release/generate-manual"

    static var isReady: Bool { [ksqsh, generateManual].allSatisfy { access($0.string, X_OK) == 0 } }
    static let notReady: Comment = "needs the release build: run `make build man completions` (as `make test` does) first"

    /// Variables the Makefile takes from the environment: unset, so that a
    /// caller's PREFIX or MAKEFLAGS (from an outer `make test`) cannot leak in.
    static let clearedEnvironment: [String: String?] = Dictionary(uniqueKeysWithValues: [
        "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "DESTDIR", "PREFIX", "BINDIR", "MANDIR",
        "BASHCOMPDIR", "ZSHCOMPDIR", "FISHCOMPDIR", "SYSCONFDIR", "INITDIR", "SYSTEMDUNITDIR", "INIT",
    ].map { ($0, nil) })

    /// `make [FLAGS] TARGET NAME=VALUE...`, as the user `nobody` when `asNobody`.
    static func make(
        _ target: String, _ variables: KeyValuePairs<String, String>, flags: [ByteString] = [], asNobody: Bool = false
    ) throws -> ProcessResult {
        let make: [ByteString] = ["make", "--no-print-directory", "-C", root] + flags + [ByteString(target)]
            + variables.map { ByteString("\($0.key)=\($0.value)") }
        let command = asNobody ? ["--reuid=65534", "--regid=65534", "--clear-groups"] + make : Array(make.dropFirst())
        return try Subprocess.run(asNobody ? "setpriv" : "make", command, environment: clearedEnvironment)
    }

    /// Every regular file under `top`, relative to it, with its permission
    /// bits; anything but a directory or a regular file is recorded as such.
    static func files(under top: ByteString) throws -> [String: mode_t] {
        var files: [String: mode_t] = [:]
        func walk(_ path: ByteString, _ relative: String) throws {
            for name in try FS.list(path) {
                let child = path / name
                let name = relative.isEmpty ? name.string : "\(relative)/\(name.string)"
                let st = try FS.lstat(child)
                switch st.st_mode & S_IFMT {
                case S_IFDIR: try walk(child, name)
                case S_IFREG: files[name] = st.st_mode & 0o7777
                default: files[name + " (not a regular file)"] = st.st_mode
                }
            }
        }
        try walk(top, "")
        return files
    }
}
