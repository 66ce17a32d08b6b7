import Glibc
import SystemPackage
import SystemSupport

/// Empties a source tree after its image was verified, leaving the top
/// directory itself (kernel-2.eclass still does `cd "${S}"`).
///
/// Removes exactly the entries that were scanned and verified: each is
/// checked to be the same inode with the same size and mtime before it is
/// unlinked, symlinks are never followed (every step is relative to an open
/// directory descriptor, opened with O_NOFOLLOW), and anything that
/// appeared or changed since is left in place and reported.
struct SourceRemover {
    let tree: SourceTree
    private var leftBehind: [String] = []

    init(tree: SourceTree) { self.tree = tree }

    func removeContents() throws {
        var remover = self
        remover.removeChildren(of: tree.root, directoryFD: tree.descriptor.rawValue)
        guard remover.leftBehind.isEmpty else {
            let shown = remover.leftBehind.prefix(10).map { "\n  \($0)" }.joined()
            throw KsqshError(
                .deleteFailed, path: tree.path,
                "the image is complete and verified, but \(remover.leftBehind.count) source entr\(remover.leftBehind.count == 1 ? "y was" : "ies were") kept:\(shown)")
        }
    }

    private mutating func removeChildren(of directory: TreeNode, directoryFD: Int32) {
        for child in directory.children {
            guard isUnchanged(child, in: directoryFD) else {
                leftBehind.append("\(child.displayPath): changed after it was verified")
                continue
            }
            if child.kind == .directory {
                let fd = openat(directoryFD, child.name.cString, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard fd >= 0 else {
                    leftBehind.append("\(child.displayPath): cannot open (\(Errno(rawValue: errno)))")
                    continue
                }
                removeChildren(of: child, directoryFD: fd)
                close(fd)
            }
            if unlinkat(directoryFD, child.name.cString, child.kind == .directory ? AT_REMOVEDIR : 0) != 0 {
                leftBehind.append("\(child.displayPath): \(Errno(rawValue: errno))")
            }
        }
    }

    private func isUnchanged(_ node: TreeNode, in directoryFD: Int32) -> Bool {
        var info = stat()
        guard fstatat(directoryFD, node.name.cString, &info, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        return UInt64(info.st_ino) == node.identity.inode && UInt64(info.st_dev) == node.identity.device
            && TreeNode.Kind(mode: info.st_mode) == node.kind
            && (node.kind == .directory || (UInt64(info.st_size) == node.size && UInt32(clamping: info.st_mtim.tv_sec) == node.mtime))
    }
}
