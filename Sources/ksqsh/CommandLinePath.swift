import Glibc
import SystemPackage
import SystemSupport

/// Paths from the command line, with the exact bytes the caller passed.
///
/// Swift decodes argv as UTF-8 and replaces invalid bytes with U+FFFD before
/// swift-argument-parser sees them, so `FilePath(argument)` would name a
/// different file for a Linux name that is not UTF-8 (e.g. Latin-1
/// `caf\xe9`). This finds the raw argv word the parsed value came from.
enum CommandLinePath {
    /// The path `argument` names: the raw bytes of the argv word it was
    /// decoded from (as `VALUE` or `--option=VALUE`), else the string itself.
    static func filePath(_ argument: String) -> FilePath {
        guard argument.unicodeScalars.contains("\u{FFFD}") else { return FilePath(argument) }
        for raw in rawArguments() {
            if String(decoding: raw, as: UTF8.self) == argument { return path(raw) }
            // --option=VALUE arrives as one argv word.
            if let equals = raw.firstIndex(of: UInt8(ascii: "=")), raw.first == UInt8(ascii: "-"),
                String(decoding: raw[(equals + 1)...], as: UTF8.self) == argument
            {
                return path(Array(raw[(equals + 1)...]))
            }
        }
        return FilePath(argument)
    }

    private static func rawArguments() -> [[UInt8]] {
        (1..<Int(CommandLine.argc)).compactMap { index in
            CommandLine.unsafeArgv[index].map { word in
                Array(UnsafeBufferPointer(start: UnsafeRawPointer(word).assumingMemoryBound(to: UInt8.self), count: strlen(word)))
            }
        }
    }

    private static func path(_ bytes: [UInt8]) -> FilePath {
        (bytes.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { FilePath(platformString: $0.baseAddress!) }
    }
}

/// A directory, or a symlink to one.
func isExistingDirectory(_ path: FilePath) -> Bool {
    (try? path.stat())?.type == .directory
}
