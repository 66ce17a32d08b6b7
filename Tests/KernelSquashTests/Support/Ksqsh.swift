import Glibc

/// Runs the built `ksqsh` binary as a black box.
enum Ksqsh {
    /// Exit statuses from the CLI contract.
    enum Exit {
        static let ok: Int32 = 0
        static let sourceMissing: Int32 = 10
        static let sourceNotDirectory: Int32 = 11
        static let sourceUnreadable: Int32 = 12
        static let sourceChanged: Int32 = 13
        static let tarballMalformed: Int32 = 14
        static let imageExists: Int32 = 20
        static let imageDirectoryMissing: Int32 = 21
        static let imageDirectoryNotWritable: Int32 = 22
        static let noSpace: Int32 = 23
        static let writeFailed: Int32 = 24
        static let unsupportedCompression: Int32 = 30
        static let imageUnreadable: Int32 = 40
        static let imageCorrupt: Int32 = 41
        static let imageDiffers: Int32 = 42
        static let deleteFailed: Int32 = 50
        static let notRoot: Int32 = 60
        static let mountFailed: Int32 = 62
        static let mountPointOccupied: Int32 = 63
        static let usage: Int32 = 64
        static let mountBusy: Int32 = 65
        static let kernelVersionUnknown: Int32 = 66
        static let pathRefused: Int32 = 67
        static let buildFailed: Int32 = 68
        static let internalError: Int32 = 70
        static let settingInvalid: Int32 = 71
        static let buildIncomplete: Int32 = 72
    }

    /// The `ksqsh` executable built next to the test bundle.
    ///
    /// SwiftPM puts products and the test bundle in the same directory
    /// (`.build/<triple>/debug/`), so it is looked up next to the running test
    /// executable (`/proc/self/exe`, then `CommandLine.arguments[0]`).
    /// `KSQSH_BINARY` overrides the search.
    static func binary() throws -> ByteString {
        try located.get()
    }

    private static let located: Result<ByteString, TestSetupError> = {
        if let override = ProcessEnvironment.value("KSQSH_BINARY"), !override.isEmpty {
            return access(override, X_OK) == 0
                ? .success(ByteString(override))
                : .failure(TestSetupError("KSQSH_BINARY=\(override) is not an executable file"))
        }
        var directories: [ByteString] = []
        if let exe = FS.realPath("/proc/self/exe") { directories.append(exe.parent) }
        if let argument = CommandLine.arguments.first {
            let path = FS.realPath(ByteString(argument)) ?? ByteString(argument)
            directories.append(path.parent)
            // macOS-style bundles: .../debug/Foo.xctest/Contents/MacOS/Foo
            var cursor = path
            while cursor.count > 1 {
                if cursor.lastComponent.string.hasSuffix(".xctest") { directories.append(cursor.parent); break }
                cursor = cursor.parent
            }
        }
        var seen = Set<ByteString>()
        for directory in directories where seen.insert(directory).inserted {
            let candidate = directory / "ksqsh"
            if let st = try? FS.lstat(FS.realPath(candidate) ?? candidate),
               st.st_mode & mode_t(S_IFMT) == mode_t(S_IFREG),
               candidate.withCString({ access($0, X_OK) }) == 0 {
                return .success(candidate)
            }
        }
        return .failure(TestSetupError(
            "the ksqsh binary was not found next to the test bundle (looked in: \(seen.map(\.description).sorted().joined(separator: ", "))); "
                + "build it with `swift build` (or `swift build --build-tests`), or set KSQSH_BINARY"
        ))
    }()

    /// `ksqsh ARGS...`.
    @discardableResult
    static func run(
        _ arguments: [ByteString], environment: [String: String?] = [:], timeout: Duration = .seconds(120)
    ) throws -> ProcessResult {
        try Subprocess.run(binary(), arguments, environment: environment, timeout: timeout)
    }

    /// `ksqsh squash SRC IMAGE OPTIONS...` (quiet unless `quiet` is false).
    @discardableResult
    static func squash(
        _ source: ByteString, _ image: ByteString, _ options: [ByteString] = [], quiet: Bool = true,
        environment: [String: String?] = [:], timeout: Duration = .seconds(120)
    ) throws -> ProcessResult {
        try run(["squash", source, image] + options + (quiet ? ["--quiet"] : []), environment: environment, timeout: timeout)
    }

    /// Squashes and requires success; throws with ksqsh's output otherwise.
    static func squashChecked(
        _ source: ByteString, _ image: ByteString, _ options: [ByteString] = [],
        environment: [String: String?] = [:], timeout: Duration = .seconds(120)
    ) throws {
        let result = try squash(source, image, options, environment: environment, timeout: timeout)
        guard result.succeeded else { throw TestSetupError("ksqsh squash failed: \(result)") }
    }

    /// `ksqsh verify IMAGE [SRC] OPTIONS...`.
    @discardableResult
    static func verify(
        _ image: ByteString, against source: ByteString? = nil, _ options: [ByteString] = [], quiet: Bool = true
    ) throws -> ProcessResult {
        var arguments: [ByteString] = ["verify", image]
        if let source { arguments.append(source) }
        return try run(arguments + options + (quiet ? ["--quiet"] : []))
    }
}
