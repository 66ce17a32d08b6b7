import SquashFSFormat
import SystemSupport

/// The inode for a non-directory entry of the tree, from what the data
/// writer recorded of its blocks and tail (`layout`).
enum InodeBuilder {
    static func make(for node: TreeNode, layout: FileLayout?) throws -> Inode {
        switch node.kind {
        case .regular:
            let layout = layout ?? FileLayout(blockCount: 0)
            return try .file(
                size: node.size, blocksStart: layout.blocksStart, blockSizes: layout.blockSizes,
                sparseBytes: layout.sparseBytes, fragment: layout.fragment,
                linkCount: node.linkCount)
        case .symlink:
            return try .symlink(target: node.symlinkTarget, linkCount: node.linkCount)
        case .characterDevice, .blockDevice:
            return try .device(block: node.kind == .blockDevice, major: node.device.major, minor: node.device.minor, linkCount: node.linkCount)
        case .fifo, .socket:
            return try .ipc(fifo: node.kind == .fifo, linkCount: node.linkCount)
        case .directory:
            throw KsqshError(.internalError, "directory inodes come from the directory writer")
        }
    }
}
