import Glibc
import SystemPackage

/// What happens when SIGINT, SIGTERM or SIGHUP arrives: a one-line notice
/// saying what state the interrupted operation leaves (`notice`), removal
/// of a named temporary file (only where O_TMPFILE is unavailable; unnamed
/// files vanish on their own), then the signal ends the process as usual.
package enum InterruptCleanup {
    /// The path as a C string, written before the handler is installed and
    /// read by the handler (unlink is async-signal-safe).
    nonisolated(unsafe) private static var pending: UnsafeMutablePointer<CChar>?
    /// "ksqsh: NOTICE\n" as a C string, written to stderr by the handler.
    /// Replaced strings are never freed: a handler on another thread may
    /// still be reading one, and there are only a few per run.
    nonisolated(unsafe) private static var pendingNotice: UnsafeMutablePointer<CChar>?
    private static let signals = [SIGINT, SIGTERM, SIGHUP]

    /// What an interruption now leaves behind, e.g. "interrupted while
    /// deleting SRC: IMAGE is verified; run the same command again to finish".
    package static var notice: String? {
        get { pendingNotice.map { String(cString: $0) } }
        set {
            pendingNotice = newValue.map { strdup("ksqsh: \($0)\n") }
            updateHandlers()
        }
    }

    package static func register(_ path: FilePath) {
        pending = path.withPlatformString { strdup($0) }
        updateHandlers()
    }

    package static func unregister() {
        if let path = pending {
            pending = nil
            free(path)
        }
        updateHandlers()
    }

    private static func updateHandlers() {
        guard pending != nil || pendingNotice != nil else {
            for signal in signals { Glibc.signal(signal, SIG_DFL) }
            return
        }
        for signal in signals {
            Glibc.signal(signal) { number in
                if let notice = InterruptCleanup.pendingNotice { _ = write(STDERR_FILENO, notice, strlen(notice)) }
                if let path = InterruptCleanup.pending { unlink(path) }
                Glibc.signal(number, SIG_DFL)
                raise(number)
            }
        }
    }
}
