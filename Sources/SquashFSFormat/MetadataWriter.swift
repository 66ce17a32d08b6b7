import CSquashFS
import SystemSupport

/// A metadata writer (`sqfs_meta_writer_t`): packs inodes or directory
/// listings into compressed 8 KiB metadata blocks.
package final class MetaWriter {
    package let handle: OpaquePointer
    private let file: SquashFSFile
    private let compressor: Compressor

    package init(file: SquashFSFile, compressor: Compressor, keepInMemory: Bool) throws {
        let flags = keepInMemory ? UInt32(SQFS_META_WRITER_KEEP_IN_MEMORY.rawValue) : 0
        guard let writer = sqfs_meta_writer_create(file.handle, compressor.handle, flags) else {
            throw KsqshError(.internalError, "cannot create a metadata writer (out of memory)")
        }
        handle = writer
        self.file = file
        self.compressor = compressor
    }

    deinit { sqfs_destroy(UnsafeMutableRawPointer(handle)) }

    /// The reference of the next thing written: block offset << 16 | offset in block.
    package var position: UInt64 {
        var block: UInt64 = 0
        var offset: UInt32 = 0
        sqfs_meta_writer_get_position(handle, &block, &offset)
        return block << 16 | UInt64(offset)
    }

    package func write(inode: Inode) throws {
        try check(sqfs_meta_writer_write_inode(handle, inode.pointer), "writing an inode", file: file)
    }

    package func flush() throws {
        try check(sqfs_meta_writer_flush(handle), "flushing metadata", file: file)
    }

    /// For a writer kept in memory: appends everything to the image.
    package func writeToFile() throws {
        try check(sqfs_meta_write_write_to_file(handle), "writing the directory table", file: file)
    }
}

/// The directory writer: turns a sorted listing into directory table entries
/// and the directory's inode.
package final class DirectoryWriter {
    private let handle: OpaquePointer
    private let metaWriter: MetaWriter

    package init(metaWriter: MetaWriter) throws {
        guard let writer = sqfs_dir_writer_create(metaWriter.handle, 0) else {
            throw KsqshError(.internalError, "cannot create the directory writer (out of memory)")
        }
        handle = writer
        self.metaWriter = metaWriter
    }

    deinit { sqfs_destroy(UnsafeMutableRawPointer(handle)) }

    package func begin() throws { try check(sqfs_dir_writer_begin(handle, 0), "starting a directory listing") }

    package func add(name: [UInt8], inodeNumber: UInt32, reference: UInt64, mode: UInt16) throws {
        try check(sqfs_dir_writer_add_entry(handle, name.cString, inodeNumber, reference, mode), "adding a directory entry")
    }

    package func end() throws { try check(sqfs_dir_writer_end(handle), "ending a directory listing") }

    /// The inode for the listing just ended; the caller frees it with `ksqsh_free`.
    package func makeInode(parentInode: UInt32) throws -> Inode {
        guard let inode = sqfs_dir_writer_create_inode(handle, 0, 0xFFFF_FFFF, parentInode) else {
            throw KsqshError(.internalError, "cannot create a directory inode (out of memory)")
        }
        return Inode(adopting: inode)
    }
}

/// The table of user and group ids; inodes store 16-bit indices into it.
package final class IdTable {
    package let handle: OpaquePointer

    package init() throws {
        guard let table = sqfs_id_table_create(0) else {
            throw KsqshError(.internalError, "cannot create the id table (out of memory)")
        }
        handle = table
    }

    deinit { sqfs_destroy(UnsafeMutableRawPointer(handle)) }

    package func index(of id: UInt32) throws -> UInt16 {
        var index: UInt16 = 0
        try check(sqfs_id_table_id_to_index(handle, id, &index), "recording owner id \(id) (an image holds at most 65536 ids)")
        return index
    }

    package func write(to file: SquashFSFile, super superBlock: inout sqfs_super_t, compressor: Compressor) throws {
        try check(sqfs_id_table_write(handle, file.handle, &superBlock, compressor.handle), "writing the id table", file: file)
    }
}
