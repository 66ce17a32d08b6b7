/// The order file data is stored in. Directory listings are always
/// byte-sorted (the format needs that); this decides only where each file's
/// data lies, which decides how often a cold read decompresses the same
/// fragment block: the kernel reads one whole block (up to 1 MiB of xz) to
/// get one small file and keeps only a few.
public enum DataLayout: String, CaseIterable, Sendable {
    /// Each directory's files in byte order, depth first.
    case plain
    /// Files grouped by when a kernel build reads them (see `KernelReadOrder`).
    case kernel

    /// `kernel` for a tree that looks like kernel sources, `plain` otherwise.
    static func automatic(for tree: SourceTree) -> DataLayout {
        let top = Set(tree.root.children.map(\.name))
        let marks: [[UInt8]] = [Array("Kconfig".utf8), Array("Makefile".utf8), Array("arch".utf8), Array("scripts".utf8), Array("kernel".utf8)]
        return marks.allSatisfy(top.contains) ? .kernel : .plain
    }

    /// Regular files in storage order (hard links once), stable within a group.
    func order(_ tree: SourceTree) -> [TreeNode] {
        var files: [TreeNode] = []
        tree.root.forEachInPreorder { node in
            if node.kind == .regular && node.hardLinkLeader == nil { files.append(node) }
        }
        guard self == .kernel else { return files }
        var groups = Array(repeating: [TreeNode](), count: KernelReadOrder.Group.allCases.count)
        for file in files {
            groups[KernelReadOrder.group(of: file.relativePath).rawValue].append(file)
        }
        return groups.flatMap { $0 }
    }
}

/// When a kernel build reads a file: the rule table behind `DataLayout.kernel`.
public enum KernelReadOrder {
    public enum Group: Int, CaseIterable, Sendable {
        /// What `make defconfig`/`olddefconfig` reads: every Kconfig*,
        /// Makefile* and Kbuild*, all of scripts/, the arch defconfigs.
        case configuration
        /// What `make modules_prepare` and the first steps of a build read:
        /// headers, the host tools' and objtool's sources, syscall tables.
        case preparation
        /// Everything else, directory by directory.
        case rest
    }

    /// The group of a path relative to the top of the tree.
    public static func group(of path: [UInt8]) -> Group {
        let components = path.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
        guard let name = components.last else { return .rest }
        if ["Kconfig", "Makefile", "Kbuild"].contains(where: name.hasPrefix) { return .configuration }
        let top = components.first!
        if top == "scripts" { return .configuration }
        if top == "arch", components.count > 3, components[2] == "configs" { return .configuration }

        if top == "include" || top == "tools" { return .preparation }
        if top == "arch", components.count > 3, ["include", "tools"].contains(components[2]) { return .preparation }
        if top == "arch", components.count > 4, components[2] == "entry", components[3] == "syscalls" { return .preparation }
        if ["kernel/bounds.c", "kernel/time/timeconst.bc"].contains(components.joined(separator: "/")) { return .preparation }
        if top == "arch", components.count == 4, components[2] == "kernel", name.hasPrefix("asm-offsets") { return .preparation }
        return .rest
    }
}
