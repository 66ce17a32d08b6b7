import CSquashFS
import SystemPackage
import SystemSupport

/// The fragment table: where each fragment block (packed file tails) lives.
package final class FragmentTable {
    package let handle: OpaquePointer

    package init() throws {
        guard let table = sqfs_frag_table_create(0) else {
            throw KsqshError(.internalError, "cannot create the fragment table (out of memory)")
        }
        handle = table
    }

    /// The table of an existing image, as its super block locates it.
    package convenience init(reading file: SquashFSFile, superBlock: sqfs_super_t, compressor: Compressor, path: FilePath) throws {
        try self.init()
        var superBlock = superBlock
        try ImageReader.check(sqfs_frag_table_read(handle, file.handle, &superBlock, compressor.handle), "reading the fragment table", path)
    }

    deinit { sqfs_destroy(UnsafeMutableRawPointer(handle)) }

    /// Every entry, by index.
    package func entries(path: FilePath) throws -> [sqfs_fragment_t] {
        try (0..<UInt32(sqfs_frag_table_get_size(handle))).map { index in
            var entry = sqfs_fragment_t()
            try ImageReader.check(sqfs_frag_table_lookup(handle, index, &entry), "reading fragment table entry \(index)", path)
            return entry
        }
    }

    /// Reserves the next index; the location is filled in once the block is written.
    package func appendPlaceholder() throws -> UInt32 {
        var index: UInt32 = 0
        try check(sqfs_frag_table_append(handle, 0, 0, &index), "adding a fragment table entry")
        return index
    }

    package func set(_ index: UInt32, location: UInt64, sizeWord: UInt32) throws {
        try check(sqfs_frag_table_set(handle, index, location, sizeWord), "filling in a fragment table entry")
    }

    package func write(to file: SquashFSFile, super superBlock: inout sqfs_super_t, compressor: Compressor) throws {
        try check(sqfs_frag_table_write(handle, file.handle, &superBlock, compressor.handle), "writing the fragment table", file: file)
    }
}

/// Throws a descriptive error for a failed libsquashfs call while writing.
package func check(_ status: Int32, _ what: String, file: SquashFSFile? = nil) throws {
    guard status != 0 else { return }
    if let errno = file?.lastErrno {
        throw KsqshError(errno == .noSpace ? .noSpace : .writeFailed, "\(what) failed", errno: errno)
    }
    throw KsqshError(.internalError, "\(what) failed: \(SquashFSStatus.describe(status))")
}
