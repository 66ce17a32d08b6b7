import CSquashFS
import SquashFSFormat
import SystemSupport

/// Writes the inode table and the directory table once all data is in place.
///
/// The inode table starts with every inode that is not a directory, in the
/// order of their data (for kernel trees: by when a build reads them; a
/// tarball ranks its files once all have streamed by), and ends with the
/// directories in post-order (children before their parent, the root
/// last), each written right after its listing, so every listing can name
/// the references of inodes already written. Inodes are numbered in the
/// order they are written.
///
/// Why not one directory after the other: a cold `make defconfig` looks up
/// the Kconfig in each of a thousand directories, and the kernel keeps only
/// eight metadata blocks decompressed. With each Kconfig's inode among its
/// directory's other files, nearly every lookup decompressed another inode
/// block; side by side, in the order they are read, they share a few
/// (README, "Performance", has the counts).
final class MetadataTables {
    private let inodes: MetaWriter
    private let directoryTable: MetaWriter
    private let directories: DirectoryWriter
    private let ids: IdTable
    private let layouts: [ObjectIdentifier: FileLayout]
    private let keepOwner: Bool
    private let compressor: Compressor
    private let rawListings: Set<ObjectIdentifier>
    private var numbers: [ObjectIdentifier: UInt32] = [:]
    private var references: [ObjectIdentifier: UInt64] = [:]
    private(set) var inodeCount: UInt32 = 0

    /// `rawListings`: the directories whose listings are stored
    /// uncompressed — each metadata block that fills up while one of them
    /// is written.
    init(
        file: SquashFSFile, compressor: Compressor, ids: IdTable, layouts: [ObjectIdentifier: FileLayout], keepOwner: Bool,
        rawListings: Set<ObjectIdentifier> = []
    ) throws {
        inodes = try MetaWriter(file: file, compressor: compressor, keepInMemory: false)
        directoryTable = try MetaWriter(file: file, compressor: compressor, keepInMemory: true)
        directories = try DirectoryWriter(metaWriter: directoryTable)
        self.ids = ids
        self.layouts = layouts
        self.keepOwner = keepOwner
        self.compressor = compressor
        self.rawListings = rawListings
    }

    /// Writes every inode and listing; returns the root inode's reference.
    /// Files come in `fileOrder`; entries not in it follow in tree order.
    /// The inode table goes to the file now, the directory table (kept in
    /// memory meanwhile) when `writeDirectoryTable` is called.
    func writeInodes(of root: TreeNode, fileOrder: [TreeNode]) throws -> UInt64 {
        let files = Self.nonDirectories(of: root, ranked: fileOrder)
        var directoriesInPostOrder: [TreeNode] = []
        Self.collectDirectories(root, into: &directoriesInPostOrder)
        for node in files + directoriesInPostOrder {
            numbers[ObjectIdentifier(node)] = UInt32(numbers.count + 1)
        }
        inodeCount = UInt32(numbers.count)

        for file in files {
            let inode = try InodeBuilder.make(for: file, layout: layouts[ObjectIdentifier(file)])
            references[ObjectIdentifier(file)] = try write(inode, for: file)
        }
        for directory in directoriesInPostOrder {
            let parentNumber = directory.parent.map(inodeNumber(of:)) ?? inodeCount + 1
            references[ObjectIdentifier(directory)] = try writeDirectory(directory, parentNumber: parentNumber)
        }
        try inodes.flush()
        return references[ObjectIdentifier(root)]!
    }

    func writeDirectoryTable() throws {
        try directoryTable.flush()
        try directoryTable.writeToFile()
    }

    /// Every node below `root` that owns an inode and is not a directory
    /// (hard-link leaders only), in the order of `ranked`, the rest in tree order.
    private static func nonDirectories(of root: TreeNode, ranked: [TreeNode]) -> [TreeNode] {
        var rank: [ObjectIdentifier: Int] = [:]
        for (position, node) in ranked.enumerated() { rank[ObjectIdentifier(node)] = position }
        var nodes: [TreeNode] = []
        root.forEachInPreorder { node in
            if node.kind != .directory && node.hardLinkLeader == nil { nodes.append(node) }
        }
        let keys = nodes.map { rank[ObjectIdentifier($0)] ?? ranked.count }
        return nodes.indices.sorted { (keys[$0], $0) < (keys[$1], $1) }.map { nodes[$0] }
    }

    private static func collectDirectories(_ directory: TreeNode, into list: inout [TreeNode]) {
        for child in directory.children where child.kind == .directory {
            collectDirectories(child, into: &list)
        }
        list.append(directory)
    }

    private func inodeNumber(of node: TreeNode) -> UInt32 {
        numbers[ObjectIdentifier(node.hardLinkLeader ?? node)]!
    }

    /// The listing of `directory` (whose children's inodes are all written),
    /// then its own inode.
    private func writeDirectory(_ directory: TreeNode, parentNumber: UInt32) throws -> UInt64 {
        try directories.begin()
        for child in directory.children {
            try directories.add(
                name: child.name, inodeNumber: inodeNumber(of: child),
                reference: references[ObjectIdentifier(child.hardLinkLeader ?? child)]!, mode: child.mode)
        }
        if rawListings.contains(ObjectIdentifier(directory)) {
            try compressor.storingRaw { try directories.end() }
        } else {
            try directories.end()
        }

        let inode = try directories.makeInode(parentInode: parentNumber)
        inode.setDirectoryLinkCount(UInt32(2 + directory.children.filter { $0.kind == .directory }.count))
        return try write(inode, for: directory)
    }

    private func write(_ inode: Inode, for node: TreeNode) throws -> UInt64 {
        inode.stamp(
            mode: node.mode, uidIndex: try ids.index(of: keepOwner ? node.uid : 0), gidIndex: try ids.index(of: keepOwner ? node.gid : 0),
            modificationTime: node.mtime, number: inodeNumber(of: node))
        let reference = inodes.position
        try inodes.write(inode: inode)
        return reference
    }
}
