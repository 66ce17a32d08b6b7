import Glibc

/// The signal that asked the bench to stop, 0 while none has. Written only by
/// the handler; an aligned 32-bit store is the one thing a handler may do.
nonisolated(unsafe) private var pendingSignal: Int32 = 0

/// Ctrl-C, a CI timeout or `ksqsh-bench | head` must not leave a
/// half-written 170 MB image and a running mksquashfs behind, so SIGINT,
/// SIGTERM and SIGPIPE only set a flag: the bench passes the signal on to the
/// running child, starts no other, cleans up and exits 128 + signal.
enum Interruption {
    static let signals = [SIGINT, SIGTERM, SIGPIPE]

    static func install() {
        for number in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { pendingSignal = $0 }
            sigemptyset(&action.sa_mask)
            // No SA_RESTART: wait4 must return EINTR so the signal can be
            // forwarded to a child that did not get it from the terminal.
            action.sa_flags = 0
            sigaction(number, &action, nil)
        }
    }

    static var pending: Int32? { pendingSignal == 0 ? nil : pendingSignal }

    static func check() throws {
        if let signal = pending { throw BenchError.interrupted(by: signal) }
    }
}
