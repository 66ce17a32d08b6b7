import CSquashFS
import SystemSupport

/// libsquashfs's block writer: appends data and fragment blocks to the image
/// and folds a file whose block sequence already exists onto the earlier copy
/// (whole-file deduplication, confirmed by comparing the bytes on disk).
package final class BlockWriter {
    private let handle: UnsafeMutablePointer<sqfs_block_writer_t>
    private let file: SquashFSFile  // the writer writes through it

    package init(file: SquashFSFile) throws {
        guard let writer = sqfs_block_writer_create(file.handle, 4096, 0) else {
            throw KsqshError(.internalError, "cannot create the block writer (out of memory)")
        }
        handle = writer
        self.file = file
    }

    deinit { sqfs_destroy(handle) }

    /// Writes one block; returns its location (for a file's last block: where
    /// the file's blocks start, which may be an earlier identical copy).
    package func write(_ bytes: UnsafeRawBufferPointer, size: UInt32, checksum: UInt32, flags: UInt32) -> (status: Int32, location: UInt64) {
        var location: UInt64 = 0
        let status = handle.pointee.write_data_block(
            handle, nil, size, checksum, flags, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), &location)
        return (status, location)
    }
}
