import Glibc
import SystemSupport

/// A one-line progress display on a terminal: files, bytes, rate and time left.
final class Progress {
    private let totalFiles: Int
    private let totalBytes: UInt64
    private let start = MonotonicClock.now()
    private var files = 0
    private var bytes: UInt64 = 0
    private var lastDraw = 0.0
    private let label: String

    /// nil when stderr is not a terminal or the caller asked for quiet.
    /// `files` 0: not known beforehand (a tarball).
    static func make(label: String, files: Int, bytes: UInt64, quiet: Bool) -> Progress? {
        guard !quiet, isatty(STDERR_FILENO) == 1 else { return nil }
        return Progress(label: label, files: files, bytes: bytes)
    }

    private init(label: String, files: Int, bytes: UInt64) {
        self.label = label
        totalFiles = files
        totalBytes = bytes
    }

    func advance(files: Int, bytes: UInt64) {
        self.files += files
        self.bytes += bytes
        let now = MonotonicClock.now()
        if now - lastDraw >= 0.2 {
            lastDraw = now
            draw(elapsed: now - start)
        }
    }

    /// Clears the line.
    func finish() {
        writeToStandardError("\r\u{1B}[K")
    }

    private func draw(elapsed: Double) {
        let rate = elapsed > 0 ? Double(bytes) / elapsed : 0
        let left = rate > 0 ? Double(totalBytes - min(bytes, totalBytes)) / rate : 0
        let line =
            "\r\u{1B}[K\(label): \(totalFiles > 0 ? "\(files)/\(totalFiles)" : "\(files)") files, \(Progress.megabytes(bytes))/\(Progress.megabytes(totalBytes)) MB, "
            + "\(Progress.megabytes(UInt64(rate))) MB/s, \(Int(left.rounded())) s left"
        writeToStandardError(line)
    }

    static func megabytes(_ bytes: UInt64) -> String {
        String(Int((Double(bytes) / 1_000_000).rounded()))
    }
}
