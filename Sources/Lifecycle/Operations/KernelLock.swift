import Glibc
import SystemPackage
import SystemSupport

/// One exclusive lock per kernel version and EROOT, held by every operation
/// that changes the version's state (mount, unmount, prepare, clean, adopt,
/// and so every hook phase and every version of `mount --all`), so two
/// ksqsh processes — a boot-time `mount --all` and a pkg_postinst, say —
/// take turns: the second waits, then sees what the first did (already
/// mounted: nothing to do).
///
/// `flock` on EROOT/run/lock/ksqsh/linux-KV.lock: /run is a tmpfs from the
/// first moment of boot (long before local filesystems are mounted, and
/// writable while / is still read-only), pkg_postinst runs outside the
/// sandbox, and with `--root` the lock lives under that root, so a scratch
/// root never contends with the real one.
///
/// Within one process the lock is re-entrant: `adopt` holds it and calls
/// `prepare`, which calls `mount`.
public enum KernelLock {
    /// How long to wait for another process, unless KSQSH_LOCK_TIMEOUT
    /// (seconds) says otherwise: long enough for a postinst's
    /// `make modules_prepare`, short enough that a stuck process is reported.
    public static let defaultTimeout = 300.0
    public static let timeoutVariable = "KSQSH_LOCK_TIMEOUT"

    public static func path(for layout: KernelLayout) -> FilePath {
        directory(eroot: layout.eroot).appending("linux-\(layout.version).lock")
    }

    static func directory(eroot: FilePath) -> FilePath { eroot.appending("run/lock/ksqsh") }

    /// Runs `body` holding the version's lock.
    public static func holding<T>(_ layout: KernelLayout, _ body: () throws -> T) throws -> T {
        let lock = FileLock(
            path: path(for: layout), subject: "\(layout.version)", timeout: timeout,
            timeoutHint: "\(timeoutVariable) sets the wait", rootOnlyAction: "change kernel sources")
        return try lock.holding(body)
    }

    static var timeout: Double {
        guard let text = ProcessEnvironment.value(of: timeoutVariable), let seconds = Double(text), seconds >= 0 else {
            return defaultTimeout
        }
        return seconds
    }
}
