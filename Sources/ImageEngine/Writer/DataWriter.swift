import CSquashFS
import Glibc
import SquashFSFormat
import SystemPackage
import SystemSupport

/// Writes the contents of regular files into the image, in the order they
/// are handed over: full blocks are compressed in parallel, file tails are
/// packed into shared fragment blocks. Identical tails and identical whole
/// files are stored once; every candidate match is confirmed byte for byte.
///
/// A fragment block ends where `FragmentBoundary` says, which a previous
/// version of the tree most likely ended it at too (`--reuse`).
///
/// Tails go to the fragment block of their *lane*. A scanned tree is stored
/// in layout order and needs one lane; a tarball stores the groups a build
/// reads first only once the archive has ended, and streams the rest, so
/// it routes each tail to its layout group's lane: files of one group still
/// share fragment blocks.
final class DataWriter {
    private let blockSize: Int
    private let blockWriter: BlockWriter
    private let fragments: FragmentTable
    private let file: SquashFSFile
    private let recall: TailRecall
    private let reuse: BlockReuse?
    private var pipeline: CompressionPipeline!
    private var progress: Progress?

    private(set) var layouts: [ObjectIdentifier: FileLayout] = [:]
    /// Files that own data blocks, by their number in the data order.
    private var order: [TreeNode] = []
    /// The open fragment block of each lane.
    private var openFragments: [OpenFragment?]
    /// Every tail stored, by slot; a tail moves when a block is cut before it.
    private var storedTails: [StoredTail] = []
    /// The slot of each distinct tail, and of each file's tail.
    private var tails: [TailKey: Int] = [:]
    private var tailSlots: [ObjectIdentifier: Int] = [:]
    /// A tail is read here first, so a duplicate never touches the fragment block.
    private let tailScratch: UnsafeMutableRawBufferPointer
    /// An earlier tail is read here again to confirm a hash match.
    private let compareScratch: UnsafeMutableRawBufferPointer

    private struct TailKey: Hashable {
        let size: Int
        let hash: UInt64
    }

    /// A fragment block being filled, how full it may get, and its tails.
    private final class OpenFragment {
        struct Member {
            let slot: Int
            /// Where the tail ends in the block.
            var end: Int
            let nameHash: UInt64
            let node: TreeNode
            /// The file's path in the image when not its node's (`--reuse` only).
            let path: [UInt8]?
        }

        let block: BlockBuffer
        let capacity: Int
        var members: [Member] = []

        init(block: BlockBuffer, capacity: Int) {
            self.block = block
            self.capacity = capacity
        }
    }

    init(file: SquashFSFile, options: SquashOptions, lanes: Int = 1, recall: TailRecall, reuse: BlockReuse? = nil, progress: Progress?) throws {
        self.file = file
        self.recall = recall
        self.reuse = reuse
        blockSize = options.blockSize
        blockWriter = try BlockWriter(file: file)
        fragments = try FragmentTable()
        self.progress = progress
        openFragments = Array(repeating: nil, count: max(lanes, 1))
        tailScratch = .allocate(byteCount: options.blockSize, alignment: 64)
        compareScratch = .allocate(byteCount: options.blockSize, alignment: 64)
        // Each open fragment block holds a buffer of the pool while it fills.
        // With reuse, most blocks take a decompression (~10 ms) and a few a
        // compression (~200 ms); finished blocks leave in order, so the pool
        // must hold many quick blocks behind a slow one to keep every worker
        // busy (~30 MB more).
        let ahead = (reuse == nil ? 2 : 8) * options.jobs
        pipeline = try CompressionPipeline(
            compression: options.compression, blockSize: options.blockSize,
            workers: options.jobs, window: ahead + 1 + openFragments.count, reuse: reuse
        ) { [unowned self] buffer in try self.write(buffer) }
    }

    deinit {
        pipeline.stop()
        tailScratch.deallocate()
        compareScratch.deallocate()
    }

    var fragmentTable: FragmentTable { fragments }

    /// Stores the data of a scanned tree's files (regular files, hard-link
    /// leaders only) as `placement` says, then writes every block still pending.
    func writeData(of placement: DataPlacement, from tree: SourceTree) throws {
        for node in placement.order {
            try store(node, fragmentBytes: placement.fragmentBytes(for: node)) { try SourceFileReader(node, in: tree) }
        }
        try finish()
    }

    /// Stores one regular file: a file smaller than a block goes into the
    /// open fragment block of `lane` with its neighbours. A larger one is
    /// stored as its own blocks, the last one short (as mksquashfs does):
    /// packing big files' tails into fragments mixes unrelated data and
    /// measured 0.2 % larger on kernel trees. `open` is called only for a
    /// file that has bytes. A tail joins an open fragment block only if
    /// that block was opened with the same `fragmentBytes` (nil: the block
    /// size) and stays within it; else it starts the next one. `path` is the
    /// file's path in the image, if not the node's own (`--reuse` finds
    /// earlier images' blocks by it).
    func store(_ node: TreeNode, lane: Int = 0, fragmentBytes: Int? = nil, path: [UInt8]? = nil, open: () throws -> FileContent) throws {
        let size = Int(node.size)
        let key = ObjectIdentifier(node)
        defer { progress?.advance(files: 1, bytes: node.size) }
        guard size > 0 else {
            layouts[key] = FileLayout(blockCount: 0)
            return
        }
        let content = try open()
        guard size >= blockSize else {
            layouts[key] = FileLayout(blockCount: 0)
            tailSlots[key] = try storeTail(
                of: content, size: size, lane: lane, capacity: min(fragmentBytes ?? blockSize, blockSize), path: path)
            try content.confirmUnchanged()
            return
        }
        let number = order.count
        order.append(node)
        let blockCount = (size + blockSize - 1) / blockSize
        layouts[key] = FileLayout(blockCount: blockCount)
        let reusePath = reuse == nil ? [] : path ?? node.relativePath
        for index in 0..<blockCount {
            let offset = index * blockSize
            let count = min(blockSize, size - offset)
            let role = BlockRole.data(file: number, index: index, first: index == 0, last: index == blockCount - 1)
            let buffer = try pipeline.acquire(for: role)
            buffer.count = count
            if content.isHole(at: UInt64(offset), length: count) {
                buffer.isSparse = true  // a hole reads as zeros: nothing to read or compress
                pipeline.submit(buffer)
                continue
            }
            do {
                try content.read(into: UnsafeMutableRawBufferPointer(rebasing: buffer.input[0..<count]), at: UInt64(offset))
            } catch {
                pipeline.release(buffer)
                throw error
            }
            buffer.reuseCandidates = reuse?.candidates(forBlock: index, ofFileAt: reusePath) ?? []
            pipeline.submit(buffer)
        }
        try content.confirmUnchanged()
    }

    /// Submits the open fragment blocks, writes every block still pending
    /// and records where each file's tail ended up.
    func finish() throws {
        defer { pipeline.stop() }
        for lane in openFragments.indices {
            submitFragment(ofLane: lane)
        }
        try pipeline.finish()
        for (key, slot) in tailSlots {
            layouts[key]!.fragment = (storedTails[slot].fragment, storedTails[slot].offset)
        }
    }

    /// Stores a file's tail in its lane's fragment block, unless an identical
    /// tail is already stored; returns its slot.
    private func storeTail(of content: FileContent, size: Int, lane: Int, capacity: Int, path: [UInt8]?) throws -> Int {
        let tail = UnsafeMutableRawBufferPointer(rebasing: tailScratch[0..<size])
        try content.read(into: tail, at: 0)
        let key = TailKey(size: size, hash: BlockHash.hash(UnsafeRawBufferPointer(tail)))
        if let earlier = tails[key], isStored(UnsafeRawBufferPointer(tail), at: storedTails[earlier]) {
            return earlier
        }

        if let open = openFragments[lane], open.capacity != capacity {
            submitFragment(ofLane: lane)
        }
        while let open = openFragments[lane], open.block.count + size > capacity {
            try cutFragment(ofLane: lane)
        }
        if openFragments[lane] == nil {
            openFragments[lane] = OpenFragment(block: try newFragmentBlock(), capacity: capacity)
        }
        let open = openFragments[lane]!
        let block = open.block
        UnsafeMutableRawBufferPointer(rebasing: block.input[block.count..<block.count + size]).copyMemory(from: UnsafeRawBufferPointer(tail))
        let slot = storedTails.count
        storedTails.append(StoredTail(fragment: block.fragmentIndex, offset: UInt32(block.count), source: content.node))
        tails[key] = slot
        block.count += size
        open.members.append(
            OpenFragment.Member(
                slot: slot, end: block.count, nameHash: FragmentBoundary.nameHash(content.node.name), node: content.node,
                path: reuse == nil ? nil : path))
        return slot
    }

    private func newFragmentBlock() throws -> BlockBuffer {
        try pipeline.acquire(for: .fragment(index: try fragments.appendPlaceholder()))
    }

    /// Submits a lane's full block up to the boundary `FragmentBoundary`
    /// picks; the tails after it move to a new open block.
    private func cutFragment(ofLane lane: Int) throws {
        let open = openFragments[lane]!
        let kept = FragmentBoundary.tailsKept(open.members.map { ($0.end, $0.nameHash) }, capacity: open.capacity)
        guard kept < open.members.count else {
            submitFragment(ofLane: lane)
            return
        }
        let cut = open.members[kept - 1].end
        let next = OpenFragment(block: try newFragmentBlock(), capacity: open.capacity)
        let moved = open.block.count - cut
        UnsafeMutableRawBufferPointer(rebasing: next.block.input[0..<moved])
            .copyMemory(from: UnsafeRawBufferPointer(rebasing: open.block.input[cut..<open.block.count]))
        next.block.count = moved
        for var member in open.members[kept...] {
            storedTails[member.slot].fragment = next.block.fragmentIndex
            storedTails[member.slot].offset -= UInt32(cut)
            member.end -= cut
            next.members.append(member)
        }
        open.block.count = cut
        open.members.removeSubrange(kept...)
        submitFragment(ofLane: lane)
        openFragments[lane] = next
    }

    private func submitFragment(ofLane lane: Int) {
        guard let open = openFragments[lane] else { return }
        if let reuse, let first = open.members.first {
            open.block.reuseCandidates = reuse.candidates(
                forFragmentOpenedBy: first.path ?? first.node.relativePath, name: first.node.name, size: first.node.size)
        }
        recall.fragmentSubmitted(open.block, index: open.block.fragmentIndex)
        pipeline.submit(open.block)
        openFragments[lane] = nil
    }

    /// Confirms a hash match byte for byte: against an open fragment block
    /// if the earlier tail is still in one, else through the recall.
    private func isStored(_ tail: UnsafeRawBufferPointer, at earlier: StoredTail) -> Bool {
        if let block = openFragments.lazy.compactMap({ $0?.block }).first(where: { $0.fragmentIndex == earlier.fragment }) {
            return memcmp(block.input.baseAddress! + Int(earlier.offset), tail.baseAddress!, tail.count) == 0
        }
        let again = UnsafeMutableRawBufferPointer(rebasing: compareScratch[0..<tail.count])
        return recall.recall(earlier, into: again) && memcmp(again.baseAddress!, tail.baseAddress!, tail.count) == 0
    }

    /// Called in submission order for every compressed block.
    private func write(_ buffer: BlockBuffer) throws {
        var flags = buffer.isCompressed ? UInt32(SQFS_BLK_IS_COMPRESSED.rawValue) : 0
        switch buffer.role {
        case .fragment(let index):
            flags |= UInt32(SQFS_BLK_FRAGMENT_BLOCK.rawValue)
            let result = blockWriter.write(buffer.payload, size: UInt32(buffer.payload.count), checksum: buffer.checksum, flags: flags)
            try check(result.status, "writing a fragment block", file: file)
            try fragments.set(index, location: result.location, sizeWord: buffer.onDiskSizeWord)
            recall.fragmentWritten(index: index, location: result.location, sizeWord: buffer.onDiskSizeWord)
        case .data(let number, let index, let first, let last):
            if first { flags |= UInt32(SQFS_BLK_FIRST_BLOCK.rawValue) }
            if last { flags |= UInt32(SQFS_BLK_LAST_BLOCK.rawValue) }
            if buffer.isSparse { flags |= UInt32(SQFS_BLK_IS_SPARSE.rawValue) }
            let size = buffer.isSparse ? UInt32(buffer.count) : UInt32(buffer.payload.count)
            let result = blockWriter.write(buffer.payload, size: size, checksum: buffer.checksum, flags: flags)
            try check(result.status, "writing a data block", file: file)
            let key = ObjectIdentifier(order[number])
            layouts[key]!.blockSizes[index] = buffer.onDiskSizeWord
            if buffer.isSparse { layouts[key]!.sparseBytes += UInt64(buffer.count) }
            if last { layouts[key]!.blocksStart = result.location }
        }
    }
}
