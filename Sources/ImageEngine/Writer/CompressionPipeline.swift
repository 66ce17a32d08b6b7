import SquashFSFormat
import SystemSupport

/// Compresses blocks on worker threads and hands them back in the order they
/// were submitted.
///
/// Only full blocks (file data and packed fragment blocks) travel through
/// here, never single file tails, so every job is about the same work and a
/// window of a few blocks per worker keeps all cores busy. Memory is bounded
/// by the window: `window × 2 × block size` plus one compressor per worker.
/// Because results come back in submission order, the image is identical for
/// any number of workers.
final class CompressionPipeline: @unchecked Sendable {
    private let lock = ConditionLock()
    private var free: [BlockBuffer]
    /// Submitted, not yet taken by a worker.
    private var pending = FIFO<BlockBuffer>()
    /// Submitted, not yet written: in submission order.
    private var inFlight = FIFO<BlockBuffer>()
    private var stopping = false
    private var running = 0
    private let blockSize: Int
    private let reuse: BlockReuse?
    private let complete: (BlockBuffer) throws -> Void

    /// - Parameter complete: called on the submitting thread, in submission
    ///   order, for each finished block; the buffer is reused afterwards.
    /// - Parameter reuse: earlier images whose blocks a worker copies
    ///   instead of compressing the same bytes again.
    init(
        compression: Compression, blockSize: Int, workers workerCount: Int, window: Int, reuse: BlockReuse? = nil,
        complete: @escaping (BlockBuffer) throws -> Void
    ) throws {
        self.blockSize = blockSize
        self.reuse = reuse
        self.complete = complete
        free = (0..<max(window, workerCount + 1)).map { _ in BlockBuffer(capacity: blockSize) }
        let compressors = try (0..<max(workerCount, 1)).map { _ in
            try Compressor(compression, blockSize: blockSize, forReading: false)
        }
        for compressor in compressors {
            let box = UncheckedCompressor(compressor)
            // Counted before it starts: `stop` waits for `running` to reach 0.
            lock.withLock { running += 1 }
            do {
                _ = try WorkerThread(name: "ksqsh-compress") { [self] in self.work(with: box.compressor) }
            } catch {
                lock.withLock { running -= 1 }
                stop()
                throw error
            }
        }
    }

    deinit {
        stop()
    }

    /// A free buffer for the next block, writing finished blocks while waiting.
    func acquire(for role: BlockRole) throws -> BlockBuffer {
        try drainFinished(waitForOne: false)
        while true {
            lock.lock()
            if let buffer = free.popLast() {
                lock.unlock()
                buffer.reset(role: role)
                return buffer
            }
            lock.unlock()
            try drainFinished(waitForOne: true)
        }
    }

    func submit(_ buffer: BlockBuffer) {
        lock.lock()
        pending.push(buffer)
        inFlight.push(buffer)
        lock.broadcast()
        lock.unlock()
    }

    /// Hands back a buffer that was acquired but will not be submitted.
    func release(_ buffer: BlockBuffer) {
        lock.lock()
        free.append(buffer)
        lock.unlock()
    }

    /// Waits for every submitted block and writes it.
    func finish() throws {
        while true {
            lock.lock()
            let empty = inFlight.isEmpty
            lock.unlock()
            if empty { break }
            try drainFinished(waitForOne: true)
        }
        stop()
    }

    /// Stops the workers; blocks still queued are dropped (used on failure).
    func stop() {
        lock.lock()
        stopping = true
        lock.broadcast()
        while running > 0 { lock.wait() }
        lock.unlock()
    }

    private func drainFinished(waitForOne: Bool) throws {
        var mustWait = waitForOne
        while true {
            lock.lock()
            while mustWait, let oldest = inFlight.first, !oldest.isDone {
                lock.wait()
            }
            guard let oldest = inFlight.first, oldest.isDone else {
                lock.unlock()
                return
            }
            let buffer = inFlight.pop()!
            lock.unlock()
            mustWait = false

            defer { release(buffer) }
            guard buffer.status >= 0 else {
                throw KsqshError(.internalError, "compressing a block failed: \(SquashFSStatus.describe(buffer.status))")
            }
            try complete(buffer)
        }
    }

    private func work(with compressor: Compressor) {
        let workspace = reuse?.makeWorkspace()
        while true {
            lock.lock()
            while pending.isEmpty && !stopping { lock.wait() }
            if stopping {
                running -= 1
                lock.broadcast()
                lock.unlock()
                return
            }
            let buffer = pending.pop()!
            lock.unlock()

            compress(buffer, with: compressor, workspace: workspace)

            lock.lock()
            buffer.isDone = true
            lock.broadcast()
            lock.unlock()
        }
    }

    private func compress(_ buffer: BlockBuffer, with compressor: Compressor, workspace: BlockReuse.Workspace?) {
        let data = buffer.filled
        if buffer.isSparse { return }
        if case .data = buffer.role, BlockHash.isZero(data) {
            buffer.isSparse = true
            return
        }
        buffer.checksum = UInt32(truncatingIfNeeded: BlockHash.hash(data))
        if let reuse, let workspace, reuse.fill(buffer, in: workspace, compress: { Self.compress($0, with: compressor) }) { return }
        Self.compress(buffer, with: compressor)
    }

    private static func compress(_ buffer: BlockBuffer, with compressor: Compressor) {
        let data = buffer.filled
        let result = compressor.process(data, into: buffer.output)
        if result > 0 {
            buffer.outputCount = Int(result)
            buffer.isCompressed = true
        } else if result < 0 {
            buffer.status = result
        }
    }
}

/// Compressors are used by exactly one worker thread each.
private struct UncheckedCompressor: @unchecked Sendable {
    let compressor: Compressor
    init(_ compressor: Compressor) { self.compressor = compressor }
}

/// A first-in, first-out queue with O(1) pop (Array.removeFirst is O(n)).
struct FIFO<Element> {
    private var items: [Element] = []
    private var head = 0

    var isEmpty: Bool { head == items.count }
    var first: Element? { isEmpty ? nil : items[head] }

    mutating func push(_ item: Element) { items.append(item) }

    mutating func pop() -> Element? {
        guard !isEmpty else { return nil }
        let item = items[head]
        head += 1
        if head >= 1024 && head * 2 >= items.count {
            items.removeFirst(head)
            head = 0
        }
        return item
    }
}
