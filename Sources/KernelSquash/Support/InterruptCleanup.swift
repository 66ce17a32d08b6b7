import Glibc
import SystemPackage

/// Removes a named temporary file when SIGINT, SIGTERM or SIGHUP arrives,
/// then lets the signal end the process as usual. Only needed where
/// O_TMPFILE is unavailable; unnamed files vanish on their own.
enum InterruptCleanup {
    /// The path as a C string, written before the handler is installed and
    /// read by the handler (unlink is async-signal-safe).
    nonisolated(unsafe) private static var pending: UnsafeMutablePointer<CChar>?

    static func register(_ path: FilePath) {
        let copy = path.withPlatformString { strdup($0) }
        pending = copy
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            Glibc.signal(signal) { number in
                if let path = InterruptCleanup.pending { unlink(path) }
                Glibc.signal(number, SIG_DFL)
                raise(number)
            }
        }
    }

    static func unregister() {
        for signal in [SIGINT, SIGTERM, SIGHUP] { Glibc.signal(signal, SIG_DFL) }
        if let path = pending {
            pending = nil
            free(path)
        }
    }
}
