import Glibc
import SystemSupport

/// One entry of a tree being squashed or verified, with the metadata the
/// image records for it. Names are raw bytes: Linux file names need not be
/// UTF-8, and the image must sort them by bytes.
public final class TreeNode {
    public typealias Kind = FileKind

    public let name: [UInt8]
    public unowned(unsafe) let parent: TreeNode?
    public let kind: Kind
    /// Permission bits including setuid, setgid and sticky (no type bits).
    public let permissions: UInt16
    public let uid: UInt32
    public let gid: UInt32
    /// Seconds since the epoch, clamped to what squashfs can store (u32).
    public let mtime: UInt32
    public let size: UInt64
    public let device: (major: UInt32, minor: UInt32)
    /// (st_dev, st_ino) of the source entry: detects replacement while squashing.
    let identity: (device: UInt64, inode: UInt64)
    public internal(set) var symlinkTarget: [UInt8]
    /// Children sorted by raw bytes (strcmp order), for directories.
    public internal(set) var children: [TreeNode] = []
    /// For the second and later names of a hard-linked file: the first one,
    /// which owns the inode in the image.
    public internal(set) var hardLinkLeader: TreeNode?
    /// How many names in the tree share this inode (1 unless hard-linked).
    public internal(set) var linkCount: UInt32 = 1

    init(
        name: [UInt8], parent: TreeNode?, kind: Kind, permissions: UInt16, uid: UInt32, gid: UInt32,
        mtime: UInt32, size: UInt64, device: (UInt32, UInt32), identity: (UInt64, UInt64),
        symlinkTarget: [UInt8] = []
    ) {
        self.name = name
        self.parent = parent
        self.kind = kind
        self.permissions = permissions
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.size = size
        self.device = device
        self.identity = identity
        self.symlinkTarget = symlinkTarget
    }

    /// The path below the tree's root, as raw bytes ("" for the root itself).
    public var relativePath: [UInt8] {
        var parts: [[UInt8]] = []
        var node: TreeNode? = self
        while let current = node, current.parent != nil {
            parts.append(current.name)
            node = current.parent
        }
        return Array(parts.reversed().joined(separator: [UInt8(ascii: "/")]))
    }

    /// The relative path for messages (invalid UTF-8 shown as replacement characters).
    public var displayPath: String {
        let path = relativePath
        return path.isEmpty ? "." : String(decoding: path, as: UTF8.self)
    }

    /// The full mode as stat(2) reports it: type bits and permissions.
    public var mode: UInt16 {
        let type: mode_t =
            switch kind {
            case .directory: S_IFDIR
            case .regular: S_IFREG
            case .symlink: S_IFLNK
            case .characterDevice: S_IFCHR
            case .blockDevice: S_IFBLK
            case .fifo: S_IFIFO
            case .socket: S_IFSOCK
            }
        return UInt16(type) | permissions
    }

    /// The regular files at and below this node that own their data (hard
    /// links once, by their first name), in tree order.
    var regularFilesOwningData: [TreeNode] {
        var files: [TreeNode] = []
        forEachInPreorder { node in
            if node.kind == .regular && node.hardLinkLeader == nil { files.append(node) }
        }
        return files
    }

    /// Calls `body` for this node and every node below it, parents first,
    /// children in byte order.
    public func forEachInPreorder(_ body: (TreeNode) throws -> Void) rethrows {
        try body(self)
        for child in children {
            try child.forEachInPreorder(body)
        }
    }
}
