import Foundation
import Glibc
import SystemSupport

/// Every failure the bench reports: a sentence for the user and the exit
/// status it should end with.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    let exitStatus: Int32

    init(_ description: String, exitStatus: Int32 = 1) {
        self.description = description
        self.exitStatus = exitStatus
    }

    /// SIGINT/SIGTERM: the shell convention 128 + signal number.
    static func interrupted(by signal: Int32) -> BenchError {
        BenchError("interrupted by signal \(signal)", exitStatus: 128 + signal)
    }
}

/// The two output streams, kept in order: the report goes to stdout, errors
/// to stderr, and stdout is flushed first so a merged CI log shows an error
/// after the lines that led to it. (Swift 6 forbids touching C's global
/// `stdout`/`stderr` variables; fflush(nil) flushes every stream instead.)
enum Console {
    static func flush() { fflush(nil) }

    /// `text` and a newline, straight to descriptor 2: if stderr is a closed
    /// pipe there is nobody left to tell, and the SIGPIPE handler takes care
    /// of stopping.
    static func error(_ text: String) {
        flush()
        writeToStandardErrorLine(text)
    }
}
