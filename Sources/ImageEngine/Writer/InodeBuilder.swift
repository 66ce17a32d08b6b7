import CKsqsh
import CSquashFS
import SystemSupport

/// Builds the libsquashfs inode for a non-directory entry. Extended inode
/// types are used only where the basic ones cannot say it (hard links,
/// sparse files, sizes or offsets past 4 GiB), as mksquashfs does.
enum InodeBuilder {
    static let noXattr: UInt32 = 0xFFFF_FFFF

    /// The caller frees the result with `ksqsh_free`.
    static func make(for node: TreeNode, layout: FileLayout?) throws -> UnsafeMutablePointer<sqfs_inode_generic_t> {
        let linked = node.linkCount > 1
        let payload: Int =
            switch node.kind {
            case .regular: (layout?.blockSizes.count ?? 0) * 4
            case .symlink: node.symlinkTarget.count
            default: 0
            }
        guard let inode = ksqsh_inode_alloc(payload) else {
            throw KsqshError(.internalError, "out of memory building an inode")
        }
        inode.pointee.payload_bytes_used = UInt32(payload)

        switch node.kind {
        case .regular:
            let layout = layout ?? FileLayout(blockCount: 0)
            let fragment = layout.fragment ?? (0xFFFF_FFFF, 0xFFFF_FFFF)
            let block = ksqsh_inode_block_sizes(inode)!
            for (index, word) in layout.blockSizes.enumerated() { block[index] = word }
            if linked || layout.sparseBytes > 0 || node.size > UInt32.max || layout.blocksStart > UInt32.max {
                inode.pointee.base.type = UInt16(SQFS_INODE_EXT_FILE.rawValue)
                inode.pointee.data.file_ext = sqfs_inode_file_ext_t(
                    blocks_start: layout.blocksStart, file_size: node.size, sparse: layout.sparseBytes,
                    nlink: node.linkCount, fragment_idx: fragment.0, fragment_offset: fragment.1, xattr_idx: noXattr)
            } else {
                inode.pointee.base.type = UInt16(SQFS_INODE_FILE.rawValue)
                inode.pointee.data.file = sqfs_inode_file_t(
                    blocks_start: UInt32(layout.blocksStart), fragment_index: fragment.0,
                    fragment_offset: fragment.1, file_size: UInt32(node.size))
            }
        case .symlink:
            node.symlinkTarget.withUnsafeBytes { target in
                UnsafeMutableRawPointer(mutating: ksqsh_inode_payload(inode)!).copyMemory(from: target.baseAddress!, byteCount: target.count)
            }
            let size = UInt32(node.symlinkTarget.count)
            if linked {
                inode.pointee.base.type = UInt16(SQFS_INODE_EXT_SLINK.rawValue)
                inode.pointee.data.slink_ext = sqfs_inode_slink_ext_t(nlink: node.linkCount, target_size: size, xattr_idx: noXattr)
            } else {
                inode.pointee.base.type = UInt16(SQFS_INODE_SLINK.rawValue)
                inode.pointee.data.slink = sqfs_inode_slink_t(nlink: 1, target_size: size)
            }
        case .characterDevice, .blockDevice:
            let devno = ksqsh_dev_encode(node.device.major, node.device.minor)
            let block = node.kind == .blockDevice
            if linked {
                inode.pointee.base.type = UInt16((block ? SQFS_INODE_EXT_BDEV : SQFS_INODE_EXT_CDEV).rawValue)
                inode.pointee.data.dev_ext = sqfs_inode_dev_ext_t(nlink: node.linkCount, devno: devno, xattr_idx: noXattr)
            } else {
                inode.pointee.base.type = UInt16((block ? SQFS_INODE_BDEV : SQFS_INODE_CDEV).rawValue)
                inode.pointee.data.dev = sqfs_inode_dev_t(nlink: 1, devno: devno)
            }
        case .fifo, .socket:
            let fifo = node.kind == .fifo
            if linked {
                inode.pointee.base.type = UInt16((fifo ? SQFS_INODE_EXT_FIFO : SQFS_INODE_EXT_SOCKET).rawValue)
                inode.pointee.data.ipc_ext = sqfs_inode_ipc_ext_t(nlink: node.linkCount, xattr_idx: noXattr)
            } else {
                inode.pointee.base.type = UInt16((fifo ? SQFS_INODE_FIFO : SQFS_INODE_SOCKET).rawValue)
                inode.pointee.data.ipc = sqfs_inode_ipc_t(nlink: 1)
            }
        case .directory:
            ksqsh_free(inode)
            throw KsqshError(.internalError, "directory inodes come from the directory writer")
        }
        return inode
    }
}
