import Glibc
import SystemPackage
import SystemSupport

/// A directory tree on disk, scanned once with lstat semantics, that stays
/// open (by descriptor) so its files can be read relative to it later.
public final class SourceTree {
    public let path: FilePath
    public let root: TreeNode
    /// Descriptor of the root directory; files are opened relative to it.
    let descriptor: FileDescriptor
    public private(set) var entryCount = 0
    public private(set) var regularFileBytes: UInt64 = 0
    /// The newest mtime in the tree: a reproducible default image time.
    public private(set) var newestMtime: UInt32 = 0

    /// Scans the tree below `path` (which may be a symlink to a directory).
    public init(scanning path: FilePath) throws {
        self.path = path
        let opened: FileDescriptor
        do {
            opened = try FileDescriptor.openDirectory(path)
        } catch {
            throw SourceTree.openError(path: path, errno: error.rawValue)
        }
        descriptor = opened
        do {
            let info: Stat
            do {
                info = try opened.stat()
            } catch {
                throw KsqshError(.sourceUnreadable, path: path, "cannot stat the source directory", errno: error)
            }
            root = TreeNode(name: [], parent: nil, stat: info)
            var scan = Scan()
            scan.newestMtime = root.mtime
            try scanDirectory(root, descriptor: opened.rawValue, scan: &scan)
            SourceTree.assignHardLinkLeaders(root, linked: Set(scan.linkedInodes))
            entryCount = scan.entries
            regularFileBytes = scan.bytes
            newestMtime = scan.newestMtime
        } catch {
            try? descriptor.close()
            throw error
        }
    }

    deinit { try? descriptor.close() }

    private struct Scan {
        var entries = 1
        var bytes: UInt64 = 0
        var newestMtime: UInt32 = 0
        /// Inodes seen with a link count above 1.
        var linkedInodes: [HardLinkKey] = []
    }

    struct HardLinkKey: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    /// The first name of a hard-linked inode in byte-sorted preorder owns
    /// it: that is the order inodes are written in, so the owner is always
    /// written before any other name refers to it.
    static func assignHardLinkLeaders(_ root: TreeNode, linked: Set<HardLinkKey>) {
        guard !linked.isEmpty else { return }
        var leaders: [HardLinkKey: TreeNode] = [:]
        root.forEachInPreorder { node in
            guard node.kind != .directory else { return }
            let key = HardLinkKey(device: node.identity.device, inode: node.identity.inode)
            guard linked.contains(key) else { return }
            if let leader = leaders[key] {
                node.hardLinkLeader = leader
                leader.linkCount += 1
            } else {
                leaders[key] = node
            }
        }
    }

    private static func openError(path: FilePath, errno code: Int32) -> KsqshError {
        let errno = Errno(rawValue: code)
        switch code {
        case ENOENT: return KsqshError(.sourceMissing, path: path, "source directory does not exist")
        case ENOTDIR: return KsqshError(.sourceNotDirectory, path: path, "source is not a directory")
        case EACCES, EPERM: return KsqshError(.sourceUnreadable, path: path, "source directory is not readable", errno: errno)
        default: return KsqshError(.sourceUnreadable, path: path, "cannot open the source directory", errno: errno)
        }
    }

    private func fullPath(_ node: TreeNode) -> FilePath {
        node.parent == nil ? path : path.appending(node.displayPath)
    }

    private func scanDirectory(_ directory: TreeNode, descriptor parentFD: Int32, scan: inout Scan) throws {
        let isRoot = directory.parent == nil
        let fd = isRoot ? dup(parentFD) : openat(parentFD, directory.name.cString, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0, let stream = fdopendir(fd) else {
            let code = Glibc.errno
            if fd >= 0 { close(fd) }
            if code == ENOENT || code == ENOTDIR || code == ELOOP {
                throw KsqshError(.sourceChanged, path: fullPath(directory), "directory vanished or was replaced while scanning; run again on a tree nobody is changing")
            }
            throw KsqshError(.sourceUnreadable, path: fullPath(directory), "cannot read directory", errno: Errno(rawValue: code))
        }
        defer { closedir(stream) }

        var children: [TreeNode] = []
        while true {
            Glibc.errno = 0
            guard let entry = readdir(stream) else {
                if Glibc.errno != 0 {
                    throw KsqshError(.sourceUnreadable, path: fullPath(directory), "cannot list directory", errno: .current)
                }
                break
            }
            let name = entryName(entry)
            if isDotOrDotDot(name) { continue }
            children.append(try scanEntry(named: name, in: directory, directoryFD: dirfd(stream), scan: &scan))
        }
        children.sort { $0.name.lexicographicallyPrecedes($1.name) }
        directory.children = children

        for child in children where child.kind == .directory {
            try scanDirectory(child, descriptor: dirfd(stream), scan: &scan)
        }
    }

    private func scanEntry(named name: [UInt8], in directory: TreeNode, directoryFD: Int32, scan: inout Scan) throws -> TreeNode {
        let info: Stat
        do {
            info = try Stat(name.cString, relativeTo: FileDescriptor(rawValue: directoryFD), flags: .symlinkNoFollow)
        } catch {
            let where_ = fullPath(directory).appending(String(decoding: name, as: UTF8.self))
            if error == .noSuchFileOrDirectory {
                throw KsqshError(.sourceChanged, path: where_, "file vanished while scanning; run again on a tree nobody is changing")
            }
            throw KsqshError(.sourceUnreadable, path: where_, "cannot stat", errno: error)
        }
        let node = TreeNode(name: name, parent: directory, stat: info)
        scan.entries += 1
        scan.newestMtime = max(scan.newestMtime, node.mtime)

        switch node.kind {
        case .symlink:
            node.symlinkTarget = try readSymlink(named: name, size: Int(info.size), directoryFD: directoryFD, node: node)
        case .regular:
            scan.bytes += node.size
        default:
            break
        }
        if node.kind != .directory && info.linkCount > 1 {
            scan.linkedInodes.append(HardLinkKey(device: UInt64(info.deviceID.rawValue), inode: UInt64(info.inode.rawValue)))
        }
        return node
    }

    private func readSymlink(named name: [UInt8], size: Int, directoryFD: Int32, node: TreeNode) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: max(size, 1) + 1)
        let count = readlinkat(directoryFD, name.cString, &buffer, buffer.count)
        guard count >= 0, count <= size else {
            throw KsqshError(.sourceChanged, path: fullPath(node), "symlink changed while scanning; run again on a tree nobody is changing")
        }
        return Array(buffer.prefix(count))
    }
}

extension TreeNode {
    convenience init(name: [UInt8], parent: TreeNode?, stat info: Stat) {
        let seconds = info.st_mtim.tv_sec
        let mode = info.mode.rawValue
        let device = info.specialDeviceID.rawValue
        self.init(
            name: name, parent: parent,
            kind: Kind(mode: mode) ?? .regular,
            permissions: UInt16(mode & 0o7777),
            uid: info.userID.rawValue, gid: info.groupID.rawValue,
            mtime: UInt32(clamping: seconds),
            size: UInt64(max(info.size, 0)),
            device: (ksqshDeviceMajor(device), ksqshDeviceMinor(device)),
            identity: (UInt64(info.deviceID.rawValue), UInt64(info.inode.rawValue))
        )
    }
}
