import SystemSupport

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

    /// Regular files in storage order (hard links once), and which of them
    /// get small fragment blocks.
    func placement(_ tree: SourceTree) -> DataPlacement {
        let files = tree.root.regularFilesOwningData
        guard self == .kernel else { return DataPlacement(order: files) }
        return KernelReadOrder.placement(files, in: tree)
    }
}

/// Where the data of a scanned tree's files goes.
struct DataPlacement {
    /// Regular files (hard-link leaders) in the order their data is stored.
    var order: [TreeNode]
    /// Files whose tails share fragment blocks of at most
    /// `KernelReadOrder.smallFragmentBytes` (see there).
    var smallFragments: Set<ObjectIdentifier> = []
    /// Directories whose listings are stored uncompressed (see
    /// `KernelReadOrder.rawListingFiles`).
    var rawListings: Set<ObjectIdentifier> = []

    /// The largest fragment block `file`'s tail may share (nil: the block size).
    func fragmentBytes(for file: TreeNode) -> Int? {
        smallFragments.contains(ObjectIdentifier(file)) ? KernelReadOrder.smallFragmentBytes : nil
    }
}
