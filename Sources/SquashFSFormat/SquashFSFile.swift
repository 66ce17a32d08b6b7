import CKsqsh
import CSquashFS
import Glibc
import SystemPackage
import SystemSupport

/// An `sqfs_file_t` over a descriptor this object does not own.
///
/// Reads and writes go through `pread`/`pwrite`, so several readers on
/// different threads may share the descriptor, each with its own SquashFSFile.
package final class SquashFSFile {
    package let handle: UnsafeMutablePointer<sqfs_file_t>

    package init(descriptor: FileDescriptor, writable: Bool, path: FilePath) throws {
        guard let file = ksqsh_file_from_fd(descriptor.rawValue, writable ? 1 : 0) else {
            throw KsqshError(.internalError, path: path, "cannot set up image I/O", errno: .current)
        }
        handle = file
    }

    deinit { sqfs_destroy(handle) }

    /// The errno of the last failed read or write, if any.
    package var lastErrno: Errno? {
        let code = ksqsh_file_last_errno(handle)
        return code == 0 ? nil : Errno(rawValue: code)
    }

    package var size: UInt64 { handle.pointee.get_size(handle) }

    package func write(at offset: UInt64, _ bytes: UnsafeRawBufferPointer) -> Int32 {
        handle.pointee.write_at(handle, offset, bytes.baseAddress, bytes.count)
    }

    package func read(at offset: UInt64, into bytes: UnsafeMutableRawBufferPointer) -> Int32 {
        handle.pointee.read_at(handle, offset, bytes.baseAddress, bytes.count)
    }
}
