import Glibc
import SquashFSFormat
import SystemSupport

/// For input read only once (a tarball): an earlier tail is got back from
/// its fragment block — from a copy while the block is among the latest
/// few (it may still be compressing), else read back from the image and
/// decompressed.
final class ImageTailRecall: TailRecall {
    private let file: SquashFSFile
    private let decompressor: Compressor
    private let blockSize: Int
    /// Copies of the fragment blocks submitted last, at least as many as can
    /// be in flight, so a block not yet written is always among them.
    private var recent: [UInt32: [UInt8]] = [:]
    private var recentOrder = FIFO<UInt32>()
    private let keep: Int
    private var written: [UInt32: (location: UInt64, sizeWord: UInt32)] = [:]
    /// The block read back last: duplicates tend to come in runs.
    private var readBack: (index: UInt32, bytes: [UInt8])?

    init(file: SquashFSFile, options: SquashOptions, keep: Int) throws {
        self.file = file
        blockSize = options.blockSize
        decompressor = try Compressor(options.compression, blockSize: options.blockSize, forReading: true)
        self.keep = keep
    }

    func fragmentSubmitted(_ block: BlockBuffer, index: UInt32) {
        recent[index] = Array(block.filled)
        recentOrder.push(index)
        while recent.count > keep, let oldest = recentOrder.pop() {
            recent[oldest] = nil
        }
    }

    func fragmentWritten(index: UInt32, location: UInt64, sizeWord: UInt32) {
        written[index] = (location, sizeWord)
    }

    func recall(_ earlier: StoredTail, into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard let block = recent[earlier.fragment] ?? readBackBlock(earlier.fragment) else { return false }
        let start = Int(earlier.offset)
        guard start + buffer.count <= block.count else { return false }
        block.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<start + buffer.count])) }
        return true
    }

    private func readBackBlock(_ index: UInt32) -> [UInt8]? {
        if let readBack, readBack.index == index { return readBack.bytes }
        guard let (location, sizeWord) = written[index] else { return nil }
        var stored = [UInt8](repeating: 0, count: blockSize)
        var bytes = [UInt8](repeating: 0, count: blockSize)
        let length = stored.withUnsafeMutableBytes { stored in
            bytes.withUnsafeMutableBytes { content in
                file.readBlock(at: location, sizeWord: sizeWord, decompressor: decompressor, stored: stored, content: content)
            }
        }
        guard let length else { return nil }
        bytes.removeSubrange(length...)
        readBack = (index, bytes)
        return bytes
    }
}
