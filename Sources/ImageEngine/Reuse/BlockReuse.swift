import Glibc
import SquashFSFormat
import Synchronization
import SystemPackage
import SystemSupport

/// What `squash --reuse` took from earlier images.
public struct ReuseReport: Sendable {
    public struct Source: Sendable {
        public let path: FilePath
        /// Why the image was not used at all (unreadable, other settings).
        public var refusal: String?
        /// Its encoder writes other bytes than this one for the same block
        /// (mksquashfs, another liblzma): nothing is copied from it.
        public var isForeign = false
        public var blocks = 0
        public var storedBytes: UInt64 = 0
    }

    public var sources: [Source]
    /// Data and fragment blocks the new image stores (holes not counted).
    public var blocksStored = 0

    public var blocksReused: Int { sources.reduce(0) { $0 + $1.blocks } }
    public var bytesReused: UInt64 { sources.reduce(0) { $0 + $1.storedBytes } }

    /// "reused 1,412 of 1,530 blocks (168.2 MB) from …", for a summary line.
    public var summary: String {
        let from = sources.filter { $0.blocks > 0 }.map { $0.path.string }
        return "reused \(blocksReused) of \(blocksStored) blocks"
            + String(cFormat: " (%.1f MB)", Double(bytesReused) / 1_000_000)
            + (from.isEmpty ? "" : " from " + from.joined(separator: ", "))
    }

    /// Why an image gave nothing, one line each.
    public var problems: [String] {
        sources.compactMap { source in
            if let refusal = source.refusal { return "not reusing \(source.path): \(refusal)" }
            if source.isForeign {
                return "not reusing \(source.path): its blocks were compressed differently (another program or library version wrote it)"
            }
            return nil
        }
    }
}

/// Copies a block's compressed bytes from an earlier image instead of
/// compressing it, where that image holds a block of the same content.
///
/// Safe by construction, not by trust: the writer names candidates by path
/// (`ReuseImage`); a compression worker reads each candidate, decompresses
/// it and compares it with the new block's bytes, and copies it only when
/// they are equal. A damaged block fails to decompress (xz and zstd check
/// their frames) or differs, and is simply compressed. So a candidate can
/// only ever put the new block's exact content in the image; the full
/// verify that follows a squash then reads every byte again anyway.
///
/// The image must also not depend on reuse (the same bytes with and
/// without it), so a copied block must be what this compressor would have
/// written: same compressor, block size and options (checked when the
/// image is opened) and the same encoder. The first `probes` matches of
/// each image are compressed as well and compared with the stored bytes;
/// one difference marks the image foreign and ends copying from it.
final class BlockReuse: @unchecked Sendable {
    static let probes = 2

    private let images: [ReuseImage]
    private let blockSize: Int
    private let state: Mutex<State>

    private struct State {
        var report: ReuseReport
        /// Per image: probes whose bytes were the same.
        var probesPassed: [Int]

        /// What to do with a match in image `image`.
        mutating func decide(_ image: Int) -> Decision {
            if report.sources[image].isForeign { return .skip }
            if probesPassed[image] >= BlockReuse.probes { return .copy }
            return .probe
        }
    }

    /// A match is copied once the image's probes have all passed; until
    /// then (probes still compressing on other workers too) it is probed.
    private enum Decision { case skip, probe, copy }

    /// Opens the images at `paths`, and those in the directories among them
    /// (`*.sqfs`); one that cannot be used is reported, never an error.
    init(_ paths: [FilePath], options: SquashOptions, settings: [UInt8]) {
        var images: [ReuseImage] = []
        var sources: [ReuseReport.Source] = []
        for path in Self.expanding(paths) {
            var source = ReuseReport.Source(path: path)
            do {
                images.append(try ReuseImage(path, number: sources.count, options: options, settings: settings))
            } catch {
                source.refusal = error.description
            }
            sources.append(source)
        }
        self.images = images
        blockSize = options.blockSize
        state = Mutex(State(report: ReuseReport(sources: sources), probesPassed: Array(repeating: 0, count: sources.count)))
    }

    var report: ReuseReport { state.withLock { $0.report } }

    /// The images a directory holds (`*.sqfs`, by name) in place of the directory.
    private static func expanding(_ paths: [FilePath]) -> [FilePath] {
        paths.flatMap { path -> [FilePath] in
            guard isDirectory(path, followingSymlinks: true) else { return [path] }
            return directoryNames(path).filter { $0.hasSuffix(".sqfs") }.sorted().map { path.appending($0) }
                .filter { isRegularFile($0) }
        }
    }

    /// Whether any image can be reused from.
    var hasImages: Bool { !images.isEmpty }

    // MARK: On the writing thread: which stored blocks to try

    func candidates(forBlock index: Int, ofFileAt path: [UInt8]) -> [StoredBlock] {
        images.compactMap { $0.block(index, ofFileAt: path) }
    }

    func candidates(forFragmentOpenedBy path: [UInt8], name: [UInt8], size: UInt64) -> [StoredBlock] {
        images.compactMap { $0.fragmentBlock(openedBy: path, name: name, size: size) }
    }

    // MARK: On a compression worker

    /// Buffers and decompressors of one worker.
    final class Workspace {
        fileprivate let stored: UnsafeMutableRawBufferPointer
        fileprivate let plain: UnsafeMutableRawBufferPointer
        fileprivate var decompressors: [Int: Compressor] = [:]

        fileprivate init(blockSize: Int) {
            stored = .allocate(byteCount: blockSize, alignment: 64)
            plain = .allocate(byteCount: blockSize, alignment: 64)
        }

        deinit {
            stored.deallocate()
            plain.deallocate()
        }
    }

    func makeWorkspace() -> Workspace { Workspace(blockSize: blockSize) }

    /// Fills `buffer`'s output from a stored block of the same content, or
    /// by `compress` while the image's encoder is being probed; returns
    /// false when no candidate matched, and the caller compresses.
    func fill(_ buffer: BlockBuffer, in workspace: Workspace, compress: (BlockBuffer) -> Void) -> Bool {
        state.withLock { $0.report.blocksStored += 1 }
        for candidate in buffer.reuseCandidates {
            guard let stored = storedBytes(of: candidate, equalTo: buffer.filled, in: workspace) else { continue }
            let decision = state.withLock { $0.decide(candidate.image) }
            if decision == .skip { continue }
            if decision == .probe {
                compress(buffer)
                let same = buffer.status >= 0 && buffer.isCompressed == candidate.isCompressed && bytesEqual(buffer.payload, stored)
                state.withLock {
                    if same { $0.probesPassed[candidate.image] += 1 } else { $0.report.sources[candidate.image].isForeign = true }
                }
                return true
            }
            if candidate.isCompressed {
                UnsafeMutableRawBufferPointer(rebasing: buffer.output[0..<stored.count]).copyMemory(from: stored)
                buffer.outputCount = stored.count
            }
            buffer.isCompressed = candidate.isCompressed
            state.withLock {
                $0.report.sources[candidate.image].blocks += 1
                $0.report.sources[candidate.image].storedBytes += UInt64(stored.count)
            }
            return true
        }
        return false
    }

    /// The candidate's stored bytes, if they decode to exactly `content`.
    private func storedBytes(of candidate: StoredBlock, equalTo content: UnsafeRawBufferPointer, in workspace: Workspace) -> UnsafeRawBufferPointer? {
        let image = images.first { $0.number == candidate.image }!
        let count = candidate.storedBytes
        guard count > 0, count <= blockSize else { return nil }
        let stored = UnsafeMutableRawBufferPointer(rebasing: workspace.stored[0..<count])
        guard (try? image.descriptor.read(fromAbsoluteOffset: Int64(candidate.location), into: stored)) == count else { return nil }
        guard candidate.isCompressed else {
            return bytesEqual(UnsafeRawBufferPointer(stored), content) ? UnsafeRawBufferPointer(stored) : nil
        }
        guard let decompressor = decompressor(for: image, in: workspace) else { return nil }
        let produced = decompressor.process(UnsafeRawBufferPointer(stored), into: workspace.plain)
        guard Int(produced) == content.count,
            bytesEqual(UnsafeRawBufferPointer(rebasing: workspace.plain[0..<content.count]), content)
        else { return nil }
        return UnsafeRawBufferPointer(stored)
    }

    private func decompressor(for image: ReuseImage, in workspace: Workspace) -> Compressor? {
        if let existing = workspace.decompressors[image.number] { return existing }
        guard let file = try? SquashFSFile(descriptor: image.descriptor, writable: false, path: image.path),
            let made = try? Compressor(reading: file, superBlock: image.superBlock, compression: image.compression, path: image.path)
        else { return nil }
        workspace.decompressors[image.number] = made
        return made
    }

    private func bytesEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }
}
