import CKsqsh
import CSquashFS
import Glibc
import SystemPackage
import SystemSupport

/// An image opened for reading with libsquashfs: super block, layout,
/// compressor, id and fragment tables, and the whole directory tree with
/// every inode. Everything a damaged image can get wrong is reported as a
/// KsqshError (40 or 41), never a crash, a hang or a huge allocation.
package final class ImageReader {
    package let path: FilePath
    package let descriptor: FileDescriptor
    package var superBlock = sqfs_super_t()
    package let compression: Compression
    package let layout: ImageLayout
    package let root: ImageNode
    /// Every fragment table entry, by index.
    package let fragments: [sqfs_fragment_t]
    private let file: SquashFSFile
    private let compressor: Compressor

    package init(descriptor: FileDescriptor, path: FilePath) throws {
        self.path = path
        self.descriptor = descriptor
        file = try SquashFSFile(descriptor: descriptor, writable: false, path: path)
        let header = try ImageHeader(file: file, path: path)
        superBlock = header.superBlock
        compression = header.compression
        layout = header.layout
        compressor = try Compressor(reading: file, superBlock: superBlock, compression: compression, path: path)

        let ids = try IdTable()
        try ImageReader.check(sqfs_id_table_read(ids.handle, file.handle, &superBlock, compressor.handle), "reading the id table", path)
        fragments = try FragmentTable(reading: file, superBlock: superBlock, compressor: compressor, path: path).entries(path: path)
        guard let directories = sqfs_dir_reader_create(&superBlock, compressor.handle, file.handle, 0) else {
            throw KsqshError(.internalError, path: path, "cannot create a directory reader (out of memory)")
        }
        defer { sqfs_destroy(UnsafeMutableRawPointer(directories)) }
        root = try ImageTreeReader(path: path, reader: directories, ids: ids.handle).read()
        try InodeConsistency(superBlock: superBlock, layout: layout, fragments: fragments, path: path).check(root)
    }

    /// A reader of file contents for one thread (libsquashfs readers are not thread-safe).
    package func makeDataReader() throws -> DataReader {
        let file = try SquashFSFile(descriptor: descriptor, writable: false, path: path)
        let compressor = try Compressor(reading: file, superBlock: superBlock, compression: compression, path: path)
        return try DataReader(file: file, compressor: compressor, superBlock: superBlock, path: path)
    }

    package static func check(_ status: Int32, _ what: String, _ path: FilePath) throws {
        guard status == 0 else {
            throw KsqshError(.imageCorrupt, path: path, "\(what) failed: \(SquashFSStatus.describe(status))")
        }
    }
}

/// The super block, proven consistent with the file and with the layout of
/// every table (no table is decoded yet).
package struct ImageHeader {
    package var superBlock = sqfs_super_t()
    package let compression: Compression
    package let layout: ImageLayout

    package init(file: SquashFSFile, path: FilePath) throws {
        let status = sqfs_super_read(&superBlock, file.handle)
        guard status == 0 else {
            throw KsqshError(.imageUnreadable, path: path, "not a readable squashfs image: \(SquashFSStatus.describe(status))")
        }
        guard let compression = Compression(id: superBlock.compression_id) else {
            throw KsqshError(.imageCorrupt, path: path, "super block names unknown compressor \(superBlock.compression_id)")
        }
        self.compression = compression
        guard superBlock.bytes_used <= file.size else {
            throw KsqshError(.imageUnreadable, path: path, "image is truncated: super block says \(superBlock.bytes_used) bytes, file has \(file.size)")
        }
        layout = try ImageLayout(superBlock, file: file, path: path)
    }
}

/// Reads file contents out of an image (one per thread).
package final class DataReader {
    private let handle: OpaquePointer
    private let file: SquashFSFile
    private let compressor: Compressor

    package init(file: SquashFSFile, compressor: Compressor, superBlock: sqfs_super_t, path: FilePath) throws {
        guard let reader = sqfs_data_reader_create(file.handle, Int(superBlock.block_size), compressor.handle, 0) else {
            throw KsqshError(.internalError, path: path, "cannot create a data reader (out of memory)")
        }
        handle = reader
        self.file = file
        self.compressor = compressor
        var superBlock = superBlock
        try ImageReader.check(sqfs_data_reader_load_fragment_table(reader, &superBlock), "reading the fragment table", path)
    }

    deinit { sqfs_destroy(UnsafeMutableRawPointer(handle)) }

    /// Reads `buffer.count` bytes of the file at `offset`; returns the count
    /// read or a negative libsquashfs error.
    private func read(_ inode: UnsafePointer<sqfs_inode_generic_t>, at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> Int32 {
        sqfs_data_reader_read(handle, inode, offset, buffer.baseAddress, UInt32(buffer.count))
    }

    /// Fills `buffer` from the file at `offset`: nil when it did, else
    /// what went wrong, for a difference list.
    package func readFully(_ inode: UnsafePointer<sqfs_inode_generic_t>, at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) -> String? {
        let got = read(inode, at: offset, into: buffer)
        if got == Int32(buffer.count) { return nil }
        return got < 0 ? "data cannot be read: \(SquashFSStatus.describe(got))" : "data ends early at byte \(offset + UInt64(got))"
    }
}
