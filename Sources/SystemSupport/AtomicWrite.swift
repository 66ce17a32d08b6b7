import Glibc
import SystemPackage

/// Writes a file atomically: a temporary in the same directory, synced,
/// renamed over the target. A crash leaves the old file or the new one,
/// and perhaps the temporary, which the next write of the target removes.
package func writeAtomically(_ bytes: [UInt8], to target: FilePath, mode: mode_t = 0o644) throws {
    let directory = target.removingLastComponent()
    removeLeftoverTemporaries(of: target)
    let temporary = hiddenTemporaryName(for: target)
    let fd: Int32
    do {
        fd = try FileDescriptor.open(
            temporary, .writeOnly, options: [.create, .exclusiveCreate, .closeOnExec, .noFollow], permissions: FilePermissions(rawValue: mode)
        ).rawValue
    } catch let errno as Errno {
        throw KsqshError(.writeFailed, path: directory, "cannot write \(target.lastComponent!)", errno: errno)
    }
    var failure: Int32 = 0
    bytes.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                failure = errno
                return
            }
            offset += written
        }
    }
    if failure == 0 && fsync(fd) != 0 { failure = errno }
    close(fd)
    if failure == 0 {
        do { try temporary.rename(to: target) } catch { failure = error.rawValue }
    }
    if failure != 0 {
        try? temporary.unlink()
        throw KsqshError(failure == ENOSPC ? .noSpace : .writeFailed, path: target, "cannot write", errno: Errno(rawValue: failure))
    }
    syncDirectory(of: target)
}

/// Removes what a power cut (or SIGKILL) during an earlier write of
/// `target` left: its temporaries (`hiddenTemporaryName`), which only
/// ksqsh names this way. The removals become durable with the directory's
/// sync after the rename. Writers of one file do not run at once (a
/// kernel's files are written under its lock); if two did, the other's
/// rename would fail with an error, and nothing would be lost.
package func removeLeftoverTemporaries(of target: FilePath) {
    let prefix = hiddenTemporaryPrefix(for: target)
    let directory = target.removingLastComponent()
    for name in directoryNames(directory.isEmpty ? "." : directory) where name.hasPrefix(prefix) {
        try? directory.appending(name).unlink()
    }
}

/// fsync of the directory holding `path`, so a rename or unlink in it
/// survives a power cut. Best effort: the data itself is already synced.
package func syncDirectory(of path: FilePath) {
    let directory = path.removingLastComponent().isEmpty ? FilePath(".") : path.removingLastComponent()
    if let descriptor = try? FileDescriptor.openDirectory(directory) {
        fsync(descriptor.rawValue)
        try? descriptor.close()
    }
}
