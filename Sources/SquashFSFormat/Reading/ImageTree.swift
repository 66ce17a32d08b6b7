import CKsqsh
import CSquashFS
import SystemPackage
import SystemSupport

/// One entry of an image's directory tree, owning the inode libsquashfs read.
package final class ImageNode {
    package let inode: UnsafeMutablePointer<sqfs_inode_generic_t>
    package let name: [UInt8]
    package let uid: UInt32
    package let gid: UInt32
    fileprivate(set) var children: [ImageNode] = []

    fileprivate init(inode: UnsafeMutablePointer<sqfs_inode_generic_t>, name: [UInt8], uid: UInt32, gid: UInt32) {
        self.inode = inode
        self.name = name
        self.uid = uid
        self.gid = gid
    }

    deinit { ksqsh_free(inode) }

    package var isDirectory: Bool {
        let type = inode.pointee.base.type
        return type == UInt16(SQFS_INODE_DIR.rawValue) || type == UInt16(SQFS_INODE_EXT_DIR.rawValue)
    }
}

/// Reads the whole directory tree of an image, as libsquashfs's
/// `sqfs_dir_reader_get_full_hierarchy` does, but safe against damaged
/// images: it recurses neither in C nor in Swift (no stack overflow on a
/// deep tree), reads every directory once (a directory listed twice, or a
/// cycle of directories, is corruption, not an exponential walk), and gives
/// up past a depth no real tree reaches.
package struct ImageTreeReader {
    /// Deeper than this is corruption: a path of 2048 components does not fit
    /// in PATH_MAX, and no kernel tree comes near it.
    package static let maximumDepth = 2048

    package let path: FilePath
    package let reader: OpaquePointer
    package let ids: OpaquePointer

    package func read() throws -> ImageNode {
        var rootInode: UnsafeMutablePointer<sqfs_inode_generic_t>?
        try check(sqfs_dir_reader_get_root_inode(reader, &rootInode), "reading the root inode")
        let root = try node(rootInode!, name: [])
        guard root.isDirectory else {
            throw KsqshError(.imageCorrupt, path: path, "the root inode is not a directory (type \(root.inode.pointee.base.type))")
        }
        var seenDirectories: Set<UInt32> = [root.inode.pointee.base.inode_number]
        // Each directory's listing is read to the end before another is opened:
        // the reader keeps one position.
        var pending: [(directory: ImageNode, depth: Int)] = [(root, 0)]
        while let (directory, depth) = pending.popLast() {
            guard depth < Self.maximumDepth else {
                throw KsqshError(.imageCorrupt, path: path, "the directory tree is deeper than \(Self.maximumDepth) levels")
            }
            directory.children = try listing(of: directory)
            for child in directory.children where child.isDirectory {
                guard seenDirectories.insert(child.inode.pointee.base.inode_number).inserted else {
                    throw KsqshError(
                        .imageCorrupt, path: path,
                        "directory inode \(child.inode.pointee.base.inode_number) is listed twice (a directory loop or a damaged entry at \(String(decoding: child.name, as: UTF8.self)))")
                }
                pending.append((child, depth + 1))
            }
        }
        return root
    }

    private func listing(of directory: ImageNode) throws -> [ImageNode] {
        try check(sqfs_dir_reader_open_dir(reader, directory.inode, UInt32(SQFS_DIR_OPEN_NO_DOT_ENTRIES.rawValue)), "opening a directory")
        var children: [ImageNode] = []
        while true {
            var entry: UnsafeMutablePointer<sqfs_dir_entry_t>?
            let status = sqfs_dir_reader_read(reader, &entry)
            if status > 0 { return children }
            try check(status, "reading a directory listing")
            let name = Array(UnsafeBufferPointer(start: ksqsh_dir_entry_name(entry!), count: Int(entry!.pointee.size) + 1))
            ksqsh_free(entry)
            // The kernel looks names up as path components.
            guard !name.contains(0), !name.contains(UInt8(ascii: "/")), name != [0x2e], name != [0x2e, 0x2e] else {
                throw KsqshError(.imageCorrupt, path: path, "a directory lists the name \"\(String(decoding: name, as: UTF8.self))\", which cannot be a file name")
            }
            var inode: UnsafeMutablePointer<sqfs_inode_generic_t>?
            try check(sqfs_dir_reader_get_inode(reader, &inode), "reading the inode of \(String(decoding: name, as: UTF8.self))")
            children.append(try node(inode!, name: name))
        }
    }

    private func node(_ inode: UnsafeMutablePointer<sqfs_inode_generic_t>, name: [UInt8]) throws -> ImageNode {
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        let uidStatus = sqfs_id_table_index_to_id(ids, inode.pointee.base.uid_idx, &uid)
        let gidStatus = sqfs_id_table_index_to_id(ids, inode.pointee.base.gid_idx, &gid)
        // The node owns the inode from here on, also when the ids are bad.
        let node = ImageNode(inode: inode, name: name, uid: uid, gid: gid)
        try check(uidStatus, "looking up the owner of \(String(decoding: name, as: UTF8.self))")
        try check(gidStatus, "looking up the group of \(String(decoding: name, as: UTF8.self))")
        return node
    }

    private func check(_ status: Int32, _ what: String) throws {
        try ImageReader.check(status, what, path)
    }
}
