import CKsqsh
import CSquashFS
import SystemPackage
import SystemSupport

/// Checks every inode against the super block and the layout before any
/// data is read: inode numbers are 1…inode_count with none missing, every
/// data block and fragment lies inside the data region, which they tile
/// exactly (files with equal content may share blocks), and the "stored
/// uncompressed" flags hold.
///
/// Without it a damaged inode count, or a block list pointing into the
/// tables, could pass: libsquashfs reads whatever bytes a position names.
package struct InodeConsistency {
    package let superBlock: sqfs_super_t
    package let layout: ImageLayout
    package let fragments: [sqfs_fragment_t]
    package let path: FilePath

    private func corrupt(_ message: String) -> KsqshError { KsqshError(.imageCorrupt, path: path, message) }
    private func has(_ flag: SQFS_SUPER_FLAGS) -> Bool { superBlock.flags & UInt16(flag.rawValue) != 0 }

    package func check(_ root: ImageNode) throws {
        var inodeNumbers: Set<UInt32> = []
        var dataUsed = DataTiling()
        for (index, fragment) in fragments.enumerated() {
            dataUsed.add(try extent(ofStored: fragment.size, at: fragment.start_offset, "fragment block \(index)", uncompressedFlag: has(SQFS_FLAG_UNCOMPRESSED_FRAGMENTS)))
        }
        var pending = [root]
        while let node = pending.popLast() {
            pending += node.children
            let number = node.inode.pointee.base.inode_number
            guard number >= 1, number <= superBlock.inode_count else {
                throw corrupt("\(describe(node)) has inode number \(number), outside 1…\(superBlock.inode_count)")
            }
            inodeNumbers.insert(number)
            let type = UInt32(node.inode.pointee.base.type)
            if type == SQFS_INODE_FILE.rawValue || type == SQFS_INODE_EXT_FILE.rawValue {
                dataUsed.add(try blocks(of: node))
            }
        }
        guard inodeNumbers.count == superBlock.inode_count else {
            throw corrupt("super block counts \(superBlock.inode_count) inodes, the directory tree holds \(inodeNumbers.count)")
        }
        // Writers put data blocks one after another: a gap or an overlap in
        // the data region means a position, a size or a table start is
        // wrong. (Fragment-table entries are checked only this way: the
        // table is stored uncompressed, so no checksum guards it.)
        let region = layout.dataRegion
        if let problem = dataUsed.problem(tiling: region) {
            throw corrupt(problem)
        }
    }

    /// The bytes a file's full blocks occupy; checks its fragment reference.
    private func blocks(of node: ImageNode) throws -> Range<UInt64>? {
        var start: UInt64 = 0
        sqfs_inode_get_file_block_start(node.inode, &start)
        var fragmentIndex: UInt32 = 0
        var fragmentOffset: UInt32 = 0
        sqfs_inode_get_frag_location(node.inode, &fragmentIndex, &fragmentOffset)
        if fragmentIndex != UInt32.max {
            guard fragmentIndex < fragments.count else {
                throw corrupt("\(describe(node)) names fragment \(fragmentIndex) of \(fragments.count)")
            }
            guard fragmentOffset < superBlock.block_size else {
                throw corrupt("\(describe(node)) starts at offset \(fragmentOffset) of a fragment block of \(superBlock.block_size) bytes")
            }
        }
        let sizes = UnsafeBufferPointer(start: ksqsh_inode_block_sizes(node.inode), count: ksqsh_inode_block_count(node.inode))
        var total: UInt64 = 0
        for (index, word) in sizes.enumerated() where word != 0 {
            total += UInt64(try extent(ofStored: word, at: nil, "\(describe(node)) block \(index)", uncompressedFlag: has(SQFS_FLAG_UNCOMPRESSED_DATA)).count)
        }
        guard total > 0 else { return nil }
        guard start >= layout.dataRegion.lowerBound, start <= layout.dataRegion.upperBound, total <= layout.dataRegion.upperBound - start else {
            throw corrupt("\(describe(node)): its \(total) bytes of blocks at \(start) lie outside the data region \(layout.dataRegion.lowerBound)–\(layout.dataRegion.upperBound)")
        }
        return start..<start + total
    }

    /// A stored block's bytes from its size word (bit 24: stored uncompressed).
    /// `start`: where it lies, if known, to check it against the data region.
    private func extent(ofStored word: UInt32, at start: UInt64?, _ what: String, uncompressedFlag: Bool) throws -> Range<UInt64> {
        let size = UInt64(ksqsh_block_on_disk_size(word))
        guard word & ~UInt32(0x01ff_ffff) == 0, size <= superBlock.block_size else {
            throw corrupt("\(what): size word 0x\(String(word, radix: 16)) is not a block of at most \(superBlock.block_size) bytes")
        }
        if uncompressedFlag, ksqsh_block_is_compressed(word) != 0 {
            throw corrupt("\(what) is compressed, but the super block flags data stored uncompressed")
        }
        guard let start else { return 0..<size }
        let region = layout.dataRegion
        guard start >= region.lowerBound, start <= region.upperBound, size <= region.upperBound - start else {
            throw corrupt("\(what) at \(start) (\(size) bytes) lies outside the data region \(region.lowerBound)–\(region.upperBound)")
        }
        return start..<start + size
    }

    private func describe(_ node: ImageNode) -> String {
        node.name.isEmpty ? "the root directory" : "entry \(String(decoding: node.name, as: UTF8.self))"
    }
}

/// The extents that blocks and fragments occupy, to check that they tile
/// the data region.
private struct DataTiling {
    private var extents: Set<Range<UInt64>> = []

    mutating func add(_ extent: Range<UInt64>?) {
        guard let extent, !extent.isEmpty else { return }
        extents.insert(extent)
    }

    /// Why the extents do not cover `region` one after another, or nil if
    /// they do. Equal extents count once: duplicate files share blocks.
    func problem(tiling region: Range<UInt64>) -> String? {
        var end = region.lowerBound
        for extent in extents.sorted(by: { ($0.lowerBound, $0.upperBound) < ($1.lowerBound, $1.upperBound) }) {
            if extent.lowerBound > end {
                return "no block of any file holds bytes \(end)–\(extent.lowerBound) of the data region \(region.lowerBound)–\(region.upperBound)"
            }
            if extent.lowerBound < end {
                return "blocks overlap at \(extent.lowerBound)–\(min(end, extent.upperBound)) of the data region"
            }
            end = extent.upperBound
        }
        return end == region.upperBound ? nil
            : "data blocks fill \(region.lowerBound)–\(end), but the data region is \(region.lowerBound)–\(region.upperBound)"
    }
}
