import CKsqsh
import CSquashFS

/// Writes the inode table and the directory table once all data is in place.
///
/// Inodes are numbered 1…N in post-order (a directory's children before the
/// directory, the root last) and written in that order, so each directory
/// listing can name the references of inodes already written.
final class MetadataTables {
    private let inodes: MetaWriter
    private let directoryTable: MetaWriter
    private let directories: DirectoryWriter
    private let ids: IdTable
    private let layouts: [ObjectIdentifier: FileLayout]
    private let keepOwner: Bool
    private var numbers: [ObjectIdentifier: UInt32] = [:]
    private var references: [ObjectIdentifier: UInt64] = [:]
    private(set) var inodeCount: UInt32 = 0

    init(file: SquashFSFile, compressor: Compressor, ids: IdTable, layouts: [ObjectIdentifier: FileLayout], keepOwner: Bool) throws {
        inodes = try MetaWriter(file: file, compressor: compressor, keepInMemory: false)
        directoryTable = try MetaWriter(file: file, compressor: compressor, keepInMemory: true)
        directories = try DirectoryWriter(metaWriter: directoryTable)
        self.ids = ids
        self.layouts = layouts
        self.keepOwner = keepOwner
    }

    /// Writes every inode and listing; returns the root inode's reference.
    /// The inode table goes to the file now, the directory table (kept in
    /// memory meanwhile) when `writeDirectoryTable` is called.
    func writeInodes(of root: TreeNode) throws -> UInt64 {
        number(root)
        inodeCount = UInt32(numbers.count)
        let reference = try writeDirectory(root, parentNumber: inodeCount + 1)
        try inodes.flush()
        return reference
    }

    func writeDirectoryTable() throws {
        try directoryTable.flush()
        try directoryTable.writeToFile()
    }

    private func number(_ directory: TreeNode) {
        for child in directory.children {
            if child.kind == .directory {
                number(child)
            } else if child.hardLinkLeader == nil {
                numbers[ObjectIdentifier(child)] = UInt32(numbers.count + 1)
            }
        }
        numbers[ObjectIdentifier(directory)] = UInt32(numbers.count + 1)
    }

    private func inodeNumber(of node: TreeNode) -> UInt32 {
        numbers[ObjectIdentifier(node.hardLinkLeader ?? node)]!
    }

    private func writeDirectory(_ directory: TreeNode, parentNumber: UInt32) throws -> UInt64 {
        let ownNumber = inodeNumber(of: directory)
        for child in directory.children {
            let key = ObjectIdentifier(child)
            if child.kind == .directory {
                references[key] = try writeDirectory(child, parentNumber: ownNumber)
            } else if let leader = child.hardLinkLeader {
                references[key] = references[ObjectIdentifier(leader)]
            } else {
                let inode = try InodeBuilder.make(for: child, layout: layouts[key])
                defer { ksqsh_free(inode) }
                references[key] = try write(inode, for: child)
            }
        }

        try directories.begin()
        for child in directory.children {
            try directories.add(
                name: child.name, inodeNumber: inodeNumber(of: child),
                reference: references[ObjectIdentifier(child)]!, mode: child.mode)
        }
        try directories.end()

        let inode = try directories.makeInode(parentInode: parentNumber)
        defer { ksqsh_free(inode) }
        // libsquashfs counts every entry; a directory's link count is 2 + its subdirectories.
        let links = UInt32(2 + directory.children.filter { $0.kind == .directory }.count)
        if inode.pointee.base.type == UInt16(SQFS_INODE_DIR.rawValue) {
            inode.pointee.data.dir.nlink = links
        } else {
            inode.pointee.data.dir_ext.nlink = links
        }
        return try write(inode, for: directory)
    }

    private func write(_ inode: UnsafeMutablePointer<sqfs_inode_generic_t>, for node: TreeNode) throws -> UInt64 {
        inode.pointee.base.mode = node.mode
        inode.pointee.base.uid_idx = try ids.index(of: keepOwner ? node.uid : 0)
        inode.pointee.base.gid_idx = try ids.index(of: keepOwner ? node.gid : 0)
        inode.pointee.base.mod_time = node.mtime
        inode.pointee.base.inode_number = inodeNumber(of: node)
        let reference = inodes.position
        try inodes.write(inode: inode)
        return reference
    }
}
