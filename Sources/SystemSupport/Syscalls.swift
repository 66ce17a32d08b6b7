import CSystemShim
import Glibc
import SystemPackage

// The syscall layer: every call ksqsh makes with a path, or whose errno it
// reads, goes through swift-system's own API (`FileDescriptor.open`,
// `FilePath.stat()`, `FileDescriptor.stat()`, `Stat(_:relativeTo:flags:)`)
// or through one wrapper here, the way swift-system wraps its calls:
//
// - a path goes to the kernel as its raw bytes (`withPlatformString`), never
//   as `.string`, which repairs a name that is not UTF-8 into another name;
// - a failure is the thrown `Errno`, read right after the call, before
//   anything else can change it.

extension Errno {
    /// The calling thread's last error, for the calls not wrapped here
    /// (readdir, fdopendir, waitpid, flock, pread), read right after them.
    ///
    /// The corresponding C variable is `errno`.
    package static var current: Errno { Errno(rawValue: Glibc.errno) }
}

/// A call's result, or its errno when it returned -1.
private func valueOrErrno<I: FixedWidthInteger>(_ result: I) -> Result<I, Errno> {
    result < 0 ? .failure(.current) : .success(result)
}

/// swift-system's calls throw nothing but `Errno`, though their signatures
/// do not say so.
private func typedErrno<T>(_ body: () throws -> T) throws(Errno) -> T {
    do {
        return try body()
    } catch let errno as Errno {
        throw errno
    } catch {
        preconditionFailure("swift-system threw \(error), not an Errno")
    }
}

extension FilePermissions {
    /// rwxr-xr-x: the mode ksqsh creates directories with (the umask applies).
    package static var directoryDefault: FilePermissions { FilePermissions(rawValue: 0o755) }
}

extension FilePath {
    /// What `access` is asked about a path.
    package enum Access: Sendable {
        case exists, readable, writable, executable

        var mode: Int32 {
            switch self {
            case .exists: F_OK
            case .readable: R_OK
            case .writable: W_OK
            case .executable: X_OK
            }
        }
    }

    /// Creates the directory (its parent must exist).
    ///
    /// The corresponding C function is `mkdir`.
    package func makeDirectory(permissions: FilePermissions = .directoryDefault) throws(Errno) {
        _ = try withPlatformString { valueOrErrno(Glibc.mkdir($0, permissions.rawValue)) }.get()
    }

    /// Removes the directory, which must be empty.
    ///
    /// The corresponding C function is `rmdir`.
    package func removeDirectory() throws(Errno) {
        _ = try withPlatformString { valueOrErrno(Glibc.rmdir($0)) }.get()
    }

    /// Removes this name (a file or symlink; never a directory).
    ///
    /// The corresponding C function is `unlink`.
    package func unlink() throws(Errno) {
        _ = try withPlatformString { valueOrErrno(Glibc.unlink($0)) }.get()
    }

    /// Renames this path to `target`, replacing what is there.
    ///
    /// The corresponding C function is `rename`.
    package func rename(to target: FilePath) throws(Errno) {
        _ = try withPlatformString { old in target.withPlatformString { valueOrErrno(Glibc.rename(old, $0)) } }.get()
    }

    /// Gives the file at this path a second name, `newName`.
    ///
    /// The corresponding C function is `link`.
    package func makeHardLink(at newName: FilePath) throws(Errno) {
        _ = try withPlatformString { existing in newName.withPlatformString { valueOrErrno(Glibc.link(existing, $0)) } }.get()
    }

    /// Creates a symlink at this path holding `target` as it is written.
    ///
    /// The corresponding C function is `symlink`.
    package func makeSymbolicLink(pointingTo target: String) throws(Errno) {
        _ = try withPlatformString { path in valueOrErrno(Glibc.symlink(target, path)) }.get()
    }

    /// Throws unless this process may use the path as `check` asks.
    ///
    /// The corresponding C function is `access`.
    package func checkAccess(_ check: Access) throws(Errno) {
        _ = try withPlatformString { valueOrErrno(Glibc.access($0, check.mode)) }.get()
    }

    /// Whether this process may use the path as `check` asks.
    package func isAccessible(_ check: Access) -> Bool {
        (try? checkAccess(check)) != nil
    }

    /// What the symlink at this path holds, as raw bytes (at most 4095).
    ///
    /// The corresponding C function is `readlink`.
    package func readSymbolicLink() throws(Errno) -> [UInt8] {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = try withPlatformString { valueOrErrno(Glibc.readlink($0, &buffer, buffer.count - 1)) }.get()
        return buffer[0..<count].map { UInt8(bitPattern: $0) }
    }

    /// What the symlink at this path holds, as text; nil when the path is
    /// not a symlink or cannot be read.
    package var symbolicLinkTarget: String? {
        (try? readSymbolicLink()).map { String(decoding: $0, as: UTF8.self) }
    }
}

extension FileDescriptor {
    /// Opens a directory to work relative to it (read-only, close-on-exec).
    /// With `followingSymlinks: false` a symlink in its place is refused.
    ///
    /// The corresponding C function is `open` with `O_DIRECTORY`.
    package static func openDirectory(_ path: FilePath, followingSymlinks: Bool = true) throws(Errno) -> FileDescriptor {
        let options: OpenOptions = followingSymlinks ? [.directory, .closeOnExec] : [.directory, .noFollow, .closeOnExec]
        return try typedErrno { try FileDescriptor.open(path, .readOnly, options: options) }
    }

    /// Opens `name` (a NUL-terminated name, raw bytes) in this directory.
    ///
    /// The corresponding C function is `openat`.
    package func openEntry(
        _ name: UnsafePointer<CChar>, _ mode: AccessMode, options: OpenOptions = [], permissions: FilePermissions? = nil
    ) throws(Errno) -> FileDescriptor {
        let flags = mode.rawValue | options.rawValue
        let fd = try valueOrErrno(permissions.map { openat(rawValue, name, flags, $0.rawValue) } ?? openat(rawValue, name, flags)).get()
        return FileDescriptor(rawValue: fd)
    }

    /// The same, for the last component of a `FilePath`.
    package func openEntry(
        _ name: FilePath.Component, _ mode: AccessMode, options: OpenOptions = [], permissions: FilePermissions? = nil
    ) throws(Errno) -> FileDescriptor {
        try name.withPlatformString { pointer in
            Result { () throws(Errno) in try openEntry(pointer, mode, options: options, permissions: permissions) }
        }.get()
    }

    /// Removes `name` from this directory: with `isDirectory`, an empty
    /// directory (`AT_REMOVEDIR`), otherwise any other kind of entry.
    ///
    /// The corresponding C function is `unlinkat`.
    package func removeEntry(_ name: UnsafePointer<CChar>, isDirectory: Bool) throws(Errno) {
        _ = try valueOrErrno(unlinkat(rawValue, name, isDirectory ? AT_REMOVEDIR : 0)).get()
    }

    /// An unnamed regular file in `directory` (`O_TMPFILE`): the kernel
    /// frees it when it is closed, unless `linkUnnamed(as:)` named it first.
    /// EOPNOTSUPP, EISDIR or EINVAL: the filesystem cannot make one.
    ///
    /// The corresponding C function is `open` with `O_TMPFILE` (`ksqsh_open_unnamed`).
    package static func openUnnamed(in directory: FilePath, permissions: FilePermissions) throws(Errno) -> FileDescriptor {
        FileDescriptor(rawValue: try directory.withPlatformString { valueOrErrno(ksqsh_open_unnamed($0, permissions.rawValue)) }.get())
    }

    /// Gives this unnamed file (from `openUnnamed`) the name `path`, which
    /// must not exist.
    ///
    /// The corresponding C function is `linkat` (`ksqsh_link_unnamed`).
    package func linkUnnamed(as path: FilePath) throws(Errno) {
        _ = try path.withPlatformString { valueOrErrno(ksqsh_link_unnamed(rawValue, $0)) }.get()
    }

    /// The first offset at or after `offset` that holds data; ENXIO when
    /// only a hole follows.
    ///
    /// The corresponding C function is `lseek` with `SEEK_DATA` (`ksqsh_seek_data`).
    package func seekData(from offset: Int64) throws(Errno) -> Int64 {
        Int64(try valueOrErrno(ksqsh_seek_data(rawValue, off_t(offset))).get())
    }
}
