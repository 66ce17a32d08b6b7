import CKsqsh
import CSquashFS
import Glibc
import SystemSupport

/// Read-only views of one node of an image's directory tree.
package struct ImageEntry {
    package let node: ImageNode

    package init(node: ImageNode) { self.node = node }

    package var inode: UnsafeMutablePointer<sqfs_inode_generic_t> { node.inode }
    package var name: [UInt8] { node.name }
    package var children: [ImageEntry] { node.children.map(ImageEntry.init) }

    package var kind: FileKind? {
        switch Int(inode.pointee.base.type) {
        case Int(SQFS_INODE_DIR.rawValue), Int(SQFS_INODE_EXT_DIR.rawValue): .directory
        case Int(SQFS_INODE_FILE.rawValue), Int(SQFS_INODE_EXT_FILE.rawValue): .regular
        case Int(SQFS_INODE_SLINK.rawValue), Int(SQFS_INODE_EXT_SLINK.rawValue): .symlink
        case Int(SQFS_INODE_CDEV.rawValue), Int(SQFS_INODE_EXT_CDEV.rawValue): .characterDevice
        case Int(SQFS_INODE_BDEV.rawValue), Int(SQFS_INODE_EXT_BDEV.rawValue): .blockDevice
        case Int(SQFS_INODE_FIFO.rawValue), Int(SQFS_INODE_EXT_FIFO.rawValue): .fifo
        case Int(SQFS_INODE_SOCKET.rawValue), Int(SQFS_INODE_EXT_SOCKET.rawValue): .socket
        default: nil
        }
    }

    package var permissions: UInt16 { inode.pointee.base.mode & 0o7777 }
    package var mtime: UInt32 { inode.pointee.base.mod_time }
    package var inodeNumber: UInt32 { inode.pointee.base.inode_number }
    package var uid: UInt32 { node.uid }
    package var gid: UInt32 { node.gid }

    package var fileSize: UInt64 {
        var size: UInt64 = 0
        sqfs_inode_get_file_size(inode, &size)
        return size
    }

    /// Where the data starts, for reading files in image order.
    package var dataPosition: (fragment: UInt32, blocks: UInt64) {
        var index: UInt32 = 0
        var offset: UInt32 = 0
        var start: UInt64 = 0
        sqfs_inode_get_frag_location(inode, &index, &offset)
        sqfs_inode_get_file_block_start(inode, &start)
        return (index, start)
    }

    /// Where a regular file's tail lies in the fragment blocks, if it has one.
    package var fragmentLocation: (index: UInt32, offset: UInt32)? {
        var index: UInt32 = 0
        var offset: UInt32 = 0
        sqfs_inode_get_frag_location(inode, &index, &offset)
        return index == 0xFFFF_FFFF ? nil : (index, offset)
    }

    /// The size words of a regular file's full blocks, in order (0: a hole).
    package var blockSizeWords: [UInt32] {
        Array(UnsafeBufferPointer(start: ksqsh_inode_block_sizes(inode), count: ksqsh_inode_block_count(inode)))
    }

    /// Whether full block `index` of a file is stored as a hole (size word 0).
    package func isSparseBlock(_ index: Int) -> Bool {
        index < ksqsh_inode_block_count(inode) && ksqsh_inode_block_sizes(inode)[index] == 0
    }

    package var symlinkTarget: [UInt8] {
        let size =
            inode.pointee.base.type == UInt16(SQFS_INODE_SLINK.rawValue)
            ? inode.pointee.data.slink.target_size : inode.pointee.data.slink_ext.target_size
        return Array(UnsafeRawBufferPointer(start: ksqsh_inode_payload(inode), count: Int(size)))
    }

    package var device: (major: UInt32, minor: UInt32) {
        let type = inode.pointee.base.type
        let devno =
            (type == UInt16(SQFS_INODE_CDEV.rawValue) || type == UInt16(SQFS_INODE_BDEV.rawValue))
            ? inode.pointee.data.dev.devno : inode.pointee.data.dev_ext.devno
        // The kernel's new_decode_dev.
        return ((devno & 0xfff00) >> 8, (devno & 0xff) | ((devno >> 12) & 0xfff00))
    }
}
