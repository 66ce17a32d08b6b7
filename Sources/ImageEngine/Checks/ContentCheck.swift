import Glibc
import Synchronization
import SystemPackage
import SquashFSFormat
import SystemSupport

/// Decompresses every file of an image, in parallel, and compares each byte
/// with the source file when there is one. Files are taken in the order
/// their data lies in the image, in one contiguous run per thread, so each
/// fragment block is decompressed about once.
final class ContentCheck: @unchecked Sendable {
    private let image: ImageReader
    private let tree: SourceTree?
    private let files: [FileToCheck]
    private let jobs: Int
    /// What the threads found, and how far they got.
    private struct Findings {
        var differences = DifferenceList()
        var failure: Error?
        var bytesChecked: UInt64 = 0
    }
    private let findings = Mutex(Findings())

    var bytesChecked: UInt64 { findings.withLock { $0.bytesChecked } }

    init(image: ImageReader, tree: SourceTree?, files: [FileToCheck], jobs: Int) {
        self.image = image
        self.tree = tree
        self.jobs = max(1, min(jobs, files.count))
        self.files = files.sorted { a, b in
            let left = a.image.dataPosition
            let right = b.image.dataPosition
            return (left.fragment, left.blocks) < (right.fragment, right.blocks)
        }
    }

    func run() throws {
        let chunks = chunksByBytes(count: jobs * 4)
        concurrentPerform(iterations: chunks.count, threads: jobs, name: "ksqsh-verify") { index in
            do {
                try check(files[chunks[index]])
            } catch {
                findings.withLock { found in
                    if found.failure == nil { found.failure = error }
                }
            }
        }
        let (differences, failure) = findings.withLock { ($0.differences, $0.failure) }
        if let failure { throw failure }
        guard !differences.isEmpty else { return }
        let headline = tree.map { "content differs from \($0.path) in \(differences.counted("file"))" }
            ?? "data of \(differences.counted("file")) \(differences.count == 1 ? "is" : "are") damaged"
        throw KsqshError(tree == nil ? .imageCorrupt : .imageDiffers, path: image.path, differences.report(headline))
    }

    /// Contiguous runs of files holding about the same number of bytes, so
    /// threads finish together (a few per thread, for the pool to balance).
    private func chunksByBytes(count: Int) -> [Range<Int>] {
        // Wrapping: sizes come from the image, and this only balances the work.
        let total = files.reduce(UInt64(0)) { $0 &+ $1.image.fileSize }
        let target = max(total / UInt64(max(count, 1)), 1)
        var chunks: [Range<Int>] = []
        var start = 0
        var bytes: UInt64 = 0
        for (index, file) in files.enumerated() {
            bytes &+= file.image.fileSize
            if bytes >= target {
                chunks.append(start..<index + 1)
                start = index + 1
                bytes = 0
            }
        }
        if start < files.count { chunks.append(start..<files.count) }
        return chunks
    }

    private func note(_ path: String, _ what: String) {
        findings.withLock { $0.differences.note(path, what) }
    }

    private func check(_ slice: ArraySlice<FileToCheck>) throws {
        let reader = try image.makeDataReader()
        let chunk = Int(image.superBlock.block_size)
        let buffers = ChunkBuffers(blockSize: chunk)
        var checked: UInt64 = 0
        for file in slice {
            let source = try file.source.map { node in try SourceFileReader(node, in: tree!) }
            let size = file.image.fileSize
            var offset: UInt64 = 0
            while offset < size {
                let count = Int(min(UInt64(chunk), size - offset))
                // A sparse block in the image over a hole in the source: equal, nothing to read.
                if file.image.isSparseBlock(Int(offset / UInt64(chunk))), source?.mayHaveHoles ?? true,
                    source?.isHole(at: offset, length: count) ?? true
                {
                    offset += UInt64(count)
                    continue
                }
                if let problem = reader.readFully(file.image.inode, at: offset, into: buffers.imagePrefix(count)) {
                    note(file.path, problem)
                    break
                }
                if let source {
                    try source.read(into: buffers.sourcePrefix(count), at: offset)
                    if let difference = buffers.difference(count, at: offset) {
                        note(file.path, difference)
                        break
                    }
                }
                offset += UInt64(count)
            }
            checked += offset
        }
        findings.withLock { $0.bytesChecked &+= checked }
    }
}
