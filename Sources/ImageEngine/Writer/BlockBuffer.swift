import SystemSupport

/// What a block in the pipeline holds.
enum BlockRole {
    /// Block `index` of the file with data-order number `file`.
    case data(file: Int, index: Int, first: Bool, last: Bool)
    /// The fragment block with this fragment-table index: packed file tails.
    case fragment(index: UInt32)
}

/// One block of at most `capacity` bytes on its way through the pipeline:
/// filled by the reading thread, compressed by a worker, written by the
/// reading thread in submission order, then reused.
final class BlockBuffer: @unchecked Sendable {
    let capacity: Int
    let input: UnsafeMutableRawBufferPointer
    let output: UnsafeMutableRawBufferPointer
    var count = 0
    var role = BlockRole.fragment(index: 0)
    /// Stored blocks of earlier images that may hold the same bytes (`--reuse`).
    var reuseCandidates: [StoredBlock] = []

    // Set by the worker.
    var outputCount = 0
    var isCompressed = false
    var isSparse = false
    var checksum: UInt32 = 0
    var status: Int32 = 0
    var isDone = false

    init(capacity: Int) {
        self.capacity = capacity
        input = .allocate(byteCount: capacity, alignment: 64)
        output = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit {
        input.deallocate()
        output.deallocate()
    }

    var filled: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: input[0..<count]) }

    /// The bytes that go into the image: the compressed form, or the block as
    /// it is when compression did not make it smaller.
    var payload: UnsafeRawBufferPointer {
        isCompressed ? UnsafeRawBufferPointer(rebasing: output[0..<outputCount]) : filled
    }

    /// The size word squashfs stores for the block: bit 24 marks "stored uncompressed".
    var onDiskSizeWord: UInt32 {
        isSparse ? 0 : UInt32(payload.count) | (isCompressed ? 0 : 1 << 24)
    }

    /// The fragment-table index of a fragment block.
    var fragmentIndex: UInt32 {
        guard case .fragment(let index) = role else { preconditionFailure("a data block has no fragment index") }
        return index
    }

    func reset(role: BlockRole) {
        self.role = role
        reuseCandidates = []
        count = 0
        outputCount = 0
        isCompressed = false
        isSparse = false
        checksum = 0
        status = 0
        isDone = false
    }
}
