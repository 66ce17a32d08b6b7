import SystemSupport

/// The entries of a tarball as they stream by, turned into the image's tree
/// once the archive has ended (only then is it known which directories
/// exist, and whether everything sits in one top directory).
final class TarballIndex {
    /// What one inode of the archive records. Hard links share one.
    private struct Inode {
        var kind: TreeNode.Kind
        var permissions: UInt16
        var uid: UInt32
        var gid: UInt32
        var mtime: UInt32
        var size: UInt64
        var symlinkTarget: [UInt8]
        var device: (major: UInt32, minor: UInt32)
        /// For regular files: the node `DataWriter` stored the content under.
        var contentNode: TreeNode?
    }

    private var inodes: [Inode] = []
    /// Every node handed out for content, in archive order (for a second
    /// pass that verifies the image against the archive).
    private(set) var contentNodes: [TreeNode] = []
    /// Normalised path (no leading, trailing or double slashes, no "."; ""
    /// for the top) → index in `inodes`. A later entry replaces an earlier
    /// one of the same name, as unpacking would.
    private var paths: [[UInt8]: Int] = [:]
    /// The single top directory the first entry suggests ("linux-6.12"), so
    /// that layout rules see paths as in the unpacked tree while streaming.
    private var topGuess: [UInt8]?
    private var sawFirst = false

    /// Records an entry; for a regular file, returns the node its content
    /// must be stored under, and the path the layout rules should judge.
    func add(_ entry: TarEntry) throws -> (node: TreeNode, layoutPath: [UInt8])? {
        let path = try Self.normalise(entry.path)
        if !sawFirst {
            sawFirst = true
            if case .node(.directory) = entry.kind, !path.isEmpty, !path.contains(UInt8(ascii: "/")) { topGuess = path }
        }
        if case .hardLink = entry.kind {
            let target = try Self.normalise(entry.linkTarget)
            guard let shared = paths[target], inodes[shared].kind != .directory else {
                throw TarHeader.Invalid(reason: "hard link \(Self.display(path)) points to \(Self.display(target)), which is not an earlier file")
            }
            paths[path] = shared
            return nil
        }
        guard case .node(let kind) = entry.kind else { return nil }
        guard let uid = UInt32(exactly: entry.uid), let gid = UInt32(exactly: entry.gid) else {
            throw TarHeader.Invalid(reason: "owner of \(Self.display(path)) does not fit 32 bits")
        }
        var inode = Inode(
            kind: kind, permissions: entry.permissions, uid: uid, gid: gid,
            mtime: UInt32(clamping: entry.mtime), size: kind == .regular ? entry.size : 0,
            symlinkTarget: kind == .symlink ? entry.linkTarget : [], device: entry.device
        )
        if kind == .regular {
            inode.contentNode = TreeNode(
                name: path, parent: nil, kind: .regular, permissions: inode.permissions, uid: uid, gid: gid,
                mtime: inode.mtime, size: inode.size, device: (0, 0), identity: (0, UInt64(inodes.count))
            )
        }
        paths[path] = inodes.count
        inodes.append(inode)
        guard let node = inode.contentNode else { return nil }
        contentNodes.append(node)
        return (node, layoutPath(of: path))
    }

    /// The tree the archive unpacks to (its `nodeForContent` maps the
    /// content nodes `add` returned to their files in it).
    func buildTree() throws -> StreamedTree {
        let newest = inodes.map(\.mtime).max() ?? 0
        var listed: [[UInt8]: Set<[UInt8]>] = [:]
        for path in paths.keys where !path.isEmpty {
            // Every ancestor is listed in its parent, whether the archive names it or not.
            var child = path
            while !child.isEmpty {
                let (parent, name) = Self.split(child)
                guard listed[parent, default: []].insert(name).inserted else { break }
                child = parent
            }
        }
        let children = listed.mapValues { $0.sorted { $0.lexicographicallyPrecedes($1) } }

        var top: [UInt8] = []
        // One top directory and no entry for "." itself: the tree is that
        // directory, as kernel tarballs mean it. (Not named by the archive
        // at all, it is a directory implied by its entries.)
        if paths[[]] == nil, let only = children[[]], only.count == 1,
            paths[only[0]].map({ inodes[$0].kind == .directory }) ?? true
        {
            top = only[0]
        }
        var result = StreamedTree(newestMtime: newest)
        let root = try makeNode(top, name: [], parent: nil, children: children, newest: newest, tree: &result)
        result.root = root
        SourceTree.assignHardLinkLeaders(root, linked: Set(result.linked))

        root.forEachInPreorder { node in
            guard node.kind == .regular, node.hardLinkLeader == nil,
                let content = inodes[Int(node.identity.inode)].contentNode
            else { return }
            result.nodeForContent[ObjectIdentifier(content)] = node
            result.regularFileBytes += node.size
        }
        return result
    }

    private func makeNode(
        _ path: [UInt8], name: [UInt8], parent: TreeNode?, children: [[UInt8]: [[UInt8]]], newest: UInt32, tree: inout StreamedTree
    ) throws -> TreeNode {
        let below = children[path] ?? []
        // A directory the archive never names gets what `tar -x` would give it, with a reproducible time.
        let implicit = Inode(kind: .directory, permissions: 0o755, uid: 0, gid: 0, mtime: newest, size: 0, symlinkTarget: [], device: (0, 0))
        let number = paths[path]
        let inode = number.map { inodes[$0] } ?? implicit
        if !below.isEmpty && inode.kind != .directory {
            throw TarHeader.Invalid(reason: "\(Self.display(path)) is not a directory, but the archive has entries below it")
        }
        let node = TreeNode(
            name: name, parent: parent, kind: inode.kind, permissions: inode.permissions, uid: inode.uid, gid: inode.gid,
            mtime: inode.mtime, size: inode.size, device: inode.device, identity: (0, UInt64(number ?? Int.max)),
            symlinkTarget: inode.symlinkTarget
        )
        tree.entryCount += 1
        if let number, inode.kind != .directory, sharesInode(number) {
            tree.linked.append(SourceTree.HardLinkKey(device: 0, inode: UInt64(number)))
        }
        node.children = try below.map { child in
            try makeNode(path.isEmpty ? child : path + [UInt8(ascii: "/")] + child, name: child, parent: node, children: children, newest: newest, tree: &tree)
        }
        return node
    }

    private lazy var linkCounts: [Int: Int] = paths.values.reduce(into: [:]) { $0[$1, default: 0] += 1 }

    private func sharesInode(_ number: Int) -> Bool { (linkCounts[number] ?? 0) > 1 }

    /// The path as the unpacked tree has it, as far as can be told mid-stream.
    private func layoutPath(of path: [UInt8]) -> [UInt8] {
        guard let top = topGuess, path.count > top.count, path.starts(with: top + [UInt8(ascii: "/")]) else { return path }
        return Array(path.dropFirst(top.count + 1))
    }

    /// "./a//b/" → "a/b"; absolute paths become relative, as `tar -x` makes
    /// them; ".." is refused: no entry may point outside the tree.
    static func normalise(_ raw: [UInt8]) throws -> [UInt8] {
        var parts: [ArraySlice<UInt8>] = []
        for part in raw.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            if part.elementsEqual([UInt8(ascii: ".")]) { continue }
            if part.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                throw TarHeader.Invalid(reason: "entry \(display(raw)) has a '..' component")
            }
            parts.append(part)
        }
        return Array(parts.joined(separator: [UInt8(ascii: "/")]))
    }

    private static func split(_ path: [UInt8]) -> (parent: [UInt8], name: [UInt8]) {
        guard let slash = path.lastIndex(of: UInt8(ascii: "/")) else { return ([], path) }
        return (Array(path[..<slash]), Array(path[(slash + 1)...]))
    }

    private static func display(_ path: [UInt8]) -> String { String(decoding: path, as: UTF8.self) }
}

/// The tree a tarball unpacks to, built by `TarballIndex`.
struct StreamedTree {
    var root: TreeNode!
    var entryCount = 0
    var regularFileBytes: UInt64 = 0
    var newestMtime: UInt32
    /// Content node (from `TarballIndex.add`) → the node in this tree that
    /// owns the data; absent for content a later entry of the same name replaced.
    var nodeForContent: [ObjectIdentifier: TreeNode] = [:]
    fileprivate var linked: [SourceTree.HardLinkKey] = []

    init(newestMtime: UInt32) { self.newestMtime = newestMtime }

    /// `byContent` (keyed by content nodes) keyed by the nodes of this
    /// tree that own that content; content no node owns is left out.
    func keyedByNode<Value>(_ byContent: [ObjectIdentifier: Value]) -> [ObjectIdentifier: Value] {
        var rekeyed: [ObjectIdentifier: Value] = [:]
        for (content, node) in nodeForContent {
            if let value = byContent[content] { rekeyed[ObjectIdentifier(node)] = value }
        }
        return rekeyed
    }
}
