import CKsqsh
import CSquashFS
import SystemSupport

/// One inode being written, owning libsquashfs's allocation (with the
/// flexible payload: block sizes, symlink target). Extended inode types are
/// used only where the basic ones cannot say it (hard links, sparse files,
/// sizes or offsets past 4 GiB), as mksquashfs does.
package final class Inode {
    package let pointer: UnsafeMutablePointer<sqfs_inode_generic_t>

    /// No extended attributes.
    private static let noXattr: UInt32 = 0xFFFF_FFFF
    /// A file without a tail in a fragment block.
    private static let noFragment: (index: UInt32, offset: UInt32) = (0xFFFF_FFFF, 0xFFFF_FFFF)

    private init(payload: Int) throws {
        guard let inode = ksqsh_inode_alloc(payload) else {
            throw KsqshError(.internalError, "out of memory building an inode")
        }
        inode.pointee.payload_bytes_used = UInt32(payload)
        pointer = inode
    }

    /// Takes over an inode libsquashfs allocated.
    package init(adopting inode: UnsafeMutablePointer<sqfs_inode_generic_t>) { pointer = inode }

    deinit { ksqsh_free(pointer) }

    package static func file(
        size: UInt64, blocksStart: UInt64, blockSizes: [UInt32], sparseBytes: UInt64,
        fragment: (index: UInt32, offset: UInt32)?, linkCount: UInt32
    ) throws -> Inode {
        let inode = try Inode(payload: blockSizes.count * 4)
        let block = ksqsh_inode_block_sizes(inode.pointer)!
        for (index, word) in blockSizes.enumerated() { block[index] = word }
        let fragment = fragment ?? noFragment
        let data = inode.pointer
        if linkCount > 1 || sparseBytes > 0 || size > UInt32.max || blocksStart > UInt32.max {
            data.pointee.base.type = UInt16(SQFS_INODE_EXT_FILE.rawValue)
            data.pointee.data.file_ext = sqfs_inode_file_ext_t(
                blocks_start: blocksStart, file_size: size, sparse: sparseBytes,
                nlink: linkCount, fragment_idx: fragment.index, fragment_offset: fragment.offset, xattr_idx: noXattr)
        } else {
            data.pointee.base.type = UInt16(SQFS_INODE_FILE.rawValue)
            data.pointee.data.file = sqfs_inode_file_t(
                blocks_start: UInt32(blocksStart), fragment_index: fragment.index,
                fragment_offset: fragment.offset, file_size: UInt32(size))
        }
        return inode
    }

    package static func symlink(target: [UInt8], linkCount: UInt32) throws -> Inode {
        let inode = try Inode(payload: target.count)
        target.withUnsafeBytes { bytes in
            UnsafeMutableRawPointer(mutating: ksqsh_inode_payload(inode.pointer)!).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
        let size = UInt32(target.count)
        if linkCount > 1 {
            inode.pointer.pointee.base.type = UInt16(SQFS_INODE_EXT_SLINK.rawValue)
            inode.pointer.pointee.data.slink_ext = sqfs_inode_slink_ext_t(nlink: linkCount, target_size: size, xattr_idx: noXattr)
        } else {
            inode.pointer.pointee.base.type = UInt16(SQFS_INODE_SLINK.rawValue)
            inode.pointer.pointee.data.slink = sqfs_inode_slink_t(nlink: 1, target_size: size)
        }
        return inode
    }

    package static func device(block: Bool, major: UInt32, minor: UInt32, linkCount: UInt32) throws -> Inode {
        let inode = try Inode(payload: 0)
        let devno = ksqsh_dev_encode(major, minor)
        if linkCount > 1 {
            inode.pointer.pointee.base.type = UInt16((block ? SQFS_INODE_EXT_BDEV : SQFS_INODE_EXT_CDEV).rawValue)
            inode.pointer.pointee.data.dev_ext = sqfs_inode_dev_ext_t(nlink: linkCount, devno: devno, xattr_idx: noXattr)
        } else {
            inode.pointer.pointee.base.type = UInt16((block ? SQFS_INODE_BDEV : SQFS_INODE_CDEV).rawValue)
            inode.pointer.pointee.data.dev = sqfs_inode_dev_t(nlink: 1, devno: devno)
        }
        return inode
    }

    /// A FIFO, or a socket.
    package static func ipc(fifo: Bool, linkCount: UInt32) throws -> Inode {
        let inode = try Inode(payload: 0)
        if linkCount > 1 {
            inode.pointer.pointee.base.type = UInt16((fifo ? SQFS_INODE_EXT_FIFO : SQFS_INODE_EXT_SOCKET).rawValue)
            inode.pointer.pointee.data.ipc_ext = sqfs_inode_ipc_ext_t(nlink: linkCount, xattr_idx: noXattr)
        } else {
            inode.pointer.pointee.base.type = UInt16((fifo ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET).rawValue)
            inode.pointer.pointee.data.ipc = sqfs_inode_ipc_t(nlink: 1)
        }
        return inode
    }

    /// A directory's link count: 2 + its subdirectories (libsquashfs
    /// counts every entry).
    package func setDirectoryLinkCount(_ links: UInt32) {
        if pointer.pointee.base.type == UInt16(SQFS_INODE_DIR.rawValue) {
            pointer.pointee.data.dir.nlink = links
        } else {
            pointer.pointee.data.dir_ext.nlink = links
        }
    }

    /// What every inode records: type bits and permissions, owner indices
    /// into the id table, time and number.
    package func stamp(mode: UInt16, uidIndex: UInt16, gidIndex: UInt16, modificationTime: UInt32, number: UInt32) {
        pointer.pointee.base.mode = mode
        pointer.pointee.base.uid_idx = uidIndex
        pointer.pointee.base.gid_idx = gidIndex
        pointer.pointee.base.mod_time = modificationTime
        pointer.pointee.base.inode_number = number
    }
}

/// A data block's size word, as inodes and the fragment table store it:
/// the stored size, and a bit set when the block is stored uncompressed.
package enum BlockSizeWord {
    package static func storedBytes(_ word: UInt32) -> Int { Int(ksqsh_block_on_disk_size(word)) }
    package static func isCompressed(_ word: UInt32) -> Bool { ksqsh_block_is_compressed(word) != 0 }
}
