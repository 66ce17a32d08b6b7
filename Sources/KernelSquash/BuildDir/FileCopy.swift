import Glibc
import SystemPackage

/// Writes a file atomically: a temporary in the same directory, synced,
/// renamed over the target. A crash leaves the old file or the new one.
func writeAtomically(_ bytes: [UInt8], to target: FilePath, mode: mode_t = 0o644) throws {
    let directory = target.removingLastComponent()
    let temporary = directory.appending(".\(target.lastComponent!.string).ksqsh-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))")
    let fd = open(temporary.string, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)
    guard fd >= 0 else { throw KsqshError(.writeFailed, path: directory, "cannot write \(target.lastComponent!)", errno: Errno(rawValue: errno)) }
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
    if failure == 0 && rename(temporary.string, target.string) != 0 { failure = errno }
    if failure != 0 {
        unlink(temporary.string)
        throw KsqshError(failure == ENOSPC ? .noSpace : .writeFailed, path: target, "cannot write", errno: Errno(rawValue: failure))
    }
}

func readFileBytes(_ path: FilePath) throws -> [UInt8] {
    let descriptor: FileDescriptor
    do {
        descriptor = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
    } catch let errno as Errno {
        throw KsqshError(.sourceUnreadable, path: path, "cannot read", errno: errno)
    }
    defer { try? descriptor.close() }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) }
        if count == 0 { return bytes }
        bytes += chunk[0..<count]
    }
}
