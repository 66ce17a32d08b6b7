import Glibc
import Synchronization
import SystemPackage

/// An exclusive `flock` on a file, waited for up to a deadline, and
/// re-entrant within one process: an operation holding it may call another
/// that takes it again. The holder's pid and command are written into the
/// file, so a process that waits can say whom it waits for. The kernel drops
/// the lock when its holder dies, even by SIGKILL; the file itself is never
/// removed (removing a lock file lets two processes hold "the" lock on
/// different inodes).
package struct FileLock {
    package let path: FilePath
    /// What the lock guards, as the messages name it (a kernel version).
    package let subject: String
    /// Seconds to wait for another holder.
    package let timeout: Double
    /// How to wait longer, for the message when the wait runs out.
    package let timeoutHint: String
    /// What only root may do, for the message when the lock cannot be made.
    package let rootOnlyAction: String

    package init(path: FilePath, subject: String, timeout: Double, timeoutHint: String, rootOnlyAction: String) {
        self.path = path
        self.subject = subject
        self.timeout = timeout
        self.timeoutHint = timeoutHint
        self.rootOnlyAction = rootOnlyAction
    }

    /// Runs `body` holding the lock.
    package func holding<T>(_ body: () throws -> T) throws -> T {
        try HeldLocks.shared.acquire(path) { try open() }
        defer { HeldLocks.shared.release(path) }
        return try body()
    }

    /// Opens and locks the file, waiting up to `timeout`; returns the descriptor.
    private func open() throws -> Int32 {
        let directory = try openDirectory(path.removingLastComponent())
        defer { try? directory.close() }
        let fd: Int32
        do {
            fd = try directory.openEntry(
                path.lastComponent!, .readWrite, options: [.create, .closeOnExec, .noFollow], permissions: FilePermissions(rawValue: 0o644)
            ).rawValue
        } catch {
            throw lockError(path, "cannot create the lock file for \(subject)", errno: error.rawValue)
        }
        do {
            try wait(for: fd)
        } catch {
            close(fd)
            throw error
        }
        // Who holds it, for the message a waiting process prints.
        ftruncate(fd, 0)
        let holder = "\(getpid()) \(CommandLine.arguments.map { FilePath($0).lastComponent?.string ?? $0 }.prefix(3).joined(separator: " "))\n"
        _ = holder.withCString { pwrite(fd, $0, strlen($0), 0) }
        return fd
    }

    private func wait(for fd: Int32) throws {
        let deadline = MonotonicClock.now() + timeout
        var announced = false
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR else {
                throw KsqshError(.kernelLocked, path: path, "cannot lock", errno: .current)
            }
            let holder = currentHolder(fd)
            guard MonotonicClock.now() < deadline else {
                throw KsqshError(
                    .kernelLocked, path: path,
                    "\(holder.map { "pid \($0)" } ?? "another ksqsh") still works on \(subject) after \(formatSeconds(timeout)) s; wait for it to finish (or end it) and try again; \(timeoutHint)")
            }
            if !announced {
                writeToStandardErrorLine("ksqsh: waiting for \(holder.map { "pid \($0)" } ?? "another ksqsh"), which works on \(subject) (\(path))")
                announced = true
            }
            usleep(20_000)
        }
    }

    private func currentHolder(_ fd: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 256)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self).trimmingWhitespace
        guard let space = text.firstIndex(of: " "), Int32(text[..<space]) != nil else { return nil }
        return "\(text[..<space]) (\(text[text.index(after: space)...]))"
    }

    /// Only root changes kernel sources: for anyone else, a lock that cannot
    /// be made means "not root", the error every other path gives them.
    private func lockError(_ path: FilePath, _ what: String, errno code: Int32) -> KsqshError {
        if (code == EACCES || code == EPERM) && geteuid() != 0 {
            return KsqshError(.notRoot, path: path, "\(what): must be root to \(rootOnlyAction)", errno: Errno(rawValue: code))
        }
        return KsqshError(.kernelLocked, path: path, what, errno: Errno(rawValue: code))
    }

    /// EROOT/run/lock/ksqsh, created if missing. It must be a real directory
    /// that only this user can write: /run/lock is world-writable, and a
    /// directory (or symlink) planted there by someone else would let them
    /// steer where root creates files, or hold every lock.
    private func openDirectory(_ directory: FilePath) throws -> FileDescriptor {
        var path = FilePath(directory.root.map { $0.string } ?? "")
        for component in directory.components {
            path.append(component)
            do {
                try path.makeDirectory()
            } catch {
                guard error == .fileExists else { throw lockError(path, "cannot create the lock directory", errno: error.rawValue) }
            }
        }
        let descriptor: FileDescriptor
        let info: Stat
        do throws(Errno) {
            descriptor = try FileDescriptor.openDirectory(directory, followingSymlinks: false)
            do { info = try descriptor.stat() } catch {
                try? descriptor.close()
                throw error
            }
        } catch {
            throw KsqshError(.kernelLocked, path: directory, "cannot open the lock directory (a symlink?); remove it", errno: error)
        }
        let owner = info.userID.rawValue
        guard owner == geteuid(), info.mode.rawValue & 0o022 == 0 else {
            try? descriptor.close()
            if geteuid() != 0 && owner == 0 {
                throw KsqshError(.notRoot, path: directory, "must be root to \(rootOnlyAction)")
            }
            throw KsqshError(
                .kernelLocked, path: directory,
                "lock directory is owned by uid \(owner) with mode \(String(info.mode.rawValue & 0o7777, radix: 8)), not by this user and private; remove it")
        }
        return descriptor
    }

    private func formatSeconds(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
    }
}

/// The locks this process holds, with how often each was taken, so a nested
/// operation on the same version does not wait for itself (flock on a second
/// descriptor of the same file would).
private final class HeldLocks: @unchecked Sendable {
    static let shared = HeldLocks()
    private let held = Mutex<[FilePath: (fd: Int32, depth: Int)]>([:])

    func acquire(_ path: FilePath, open: () throws -> Int32) throws {
        let nested = held.withLock { held -> Bool in
            guard let entry = held[path] else { return false }
            held[path] = (entry.fd, entry.depth + 1)
            return true
        }
        if nested { return }
        let fd = try open()
        held.withLock { $0[path] = (fd, 1) }
    }

    func release(_ path: FilePath) {
        let fd = held.withLock { held -> Int32? in
            guard let entry = held[path] else { return nil }
            if entry.depth > 1 {
                held[path] = (entry.fd, entry.depth - 1)
                return nil
            }
            held[path] = nil
            return entry.fd
        }
        guard let fd else { return }
        ftruncate(fd, 0)
        close(fd)  // releases the flock
    }
}
