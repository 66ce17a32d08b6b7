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
        remover.removeChildren(of: tree.root, in: tree.descriptor)
        guard remover.leftBehind.isEmpty else {
            let shown = remover.leftBehind.prefix(10).map { "\n  \($0)" }.joined()
            throw KsqshError(
                .deleteFailed, path: tree.path,
                "the image is complete and verified, but \(remover.leftBehind.count) source entr\(remover.leftBehind.count == 1 ? "y was" : "ies were") kept:\(shown)")
        }
    }

    private mutating func removeChildren(of directory: TreeNode, in descriptor: FileDescriptor) {
        for child in directory.children {
            guard isUnchanged(child, in: descriptor) else {
                leftBehind.append("\(child.displayPath): changed after it was verified")
                continue
            }
            if child.kind == .directory {
                let opened: FileDescriptor
                do {
                    opened = try descriptor.openEntry(child.name.cString, .readOnly, options: [.directory, .noFollow, .closeOnExec])
                } catch {
                    leftBehind.append("\(child.displayPath): cannot open (\(error))")
                    continue
                }
                removeChildren(of: child, in: opened)
                try? opened.close()
            }
            do {
                try descriptor.removeEntry(child.name.cString, isDirectory: child.kind == .directory)
            } catch {
                leftBehind.append("\(child.displayPath): \(error)")
            }
        }
    }

    private func isUnchanged(_ node: TreeNode, in descriptor: FileDescriptor) -> Bool {
        guard let info = try? Stat(node.name.cString, relativeTo: descriptor, flags: .symlinkNoFollow) else { return false }
        return UInt64(info.inode.rawValue) == node.identity.inode && UInt64(info.deviceID.rawValue) == node.identity.device
            && TreeNode.Kind(mode: info.mode.rawValue) == node.kind
            && (node.kind == .directory || (UInt64(info.size) == node.size && UInt32(clamping: info.st_mtim.tv_sec) == node.mtime))
    }
}
