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
        /// Of `blocks`, those taken on their xz check, not decompressed.
        public var blocksOnCheck = 0
    }

    public var sources: [Source]
    /// Data and fragment blocks the new image stores (holes not counted).
    public var blocksStored = 0

    public var blocksReused: Int { sources.reduce(0) { $0 + $1.blocks } }
    public var bytesReused: UInt64 { sources.reduce(0) { $0 + $1.storedBytes } }
    /// Blocks only the verify that follows confirms (`ReuseConfirmation`).
    public var blocksOnCheck: Int { sources.reduce(0) { $0 + $1.blocksOnCheck } }
    /// The verify failed after blocks were taken on their check, and the
    /// image was written again, every reused block decompressed.
    public var writtenAgain = false

    /// "reused 1,412 of 1,530 blocks (168.2 MB) from …", for a summary line.
    public var summary: String {
        let from = sources.filter { $0.blocks > 0 }.map { $0.path.string }
        return "reused \(blocksReused) of \(blocksStored) blocks"
            + String(cFormat: " (%.1f MB)", Double(bytesReused) / 1_000_000)
            + (from.isEmpty ? "" : " from " + from.joined(separator: ", "))
    }

    /// Why an image gave nothing, one line each.
    public var problems: [String] {
        let again = writtenAgain
            ? ["a block taken from an earlier image on its xz check failed the verify: the image was written again, every reused block decompressed and compared"]
            : []
        return again + sources.compactMap { source in
            if let refusal = source.refusal { return "not reusing \(source.path): \(refusal)" }
            if source.isForeign {
                return "not reusing \(source.path): its blocks were compressed differently (another program or library version wrote it)"
            }
            return nil
        }
    }
}

/// How `squash --reuse` makes sure a stored block holds the new block's bytes.
enum ReuseConfirmation: Sendable {
    /// Decompress it and compare: a copied block can only ever put the new
    /// block's exact content in the image.
    case decompressing
    /// Where a full verify of the new image follows: an xz block whose
    /// length and CRC32 (`XZContentCheck`) equal the new block's is copied
    /// as it is, and the verify, which decompresses every block anyway,
    /// confirms it. Should it find a difference (a CRC32 collision, one in
    /// four billion; or a block damaged in its compressed bytes only),
    /// `Squash` writes the image again `.decompressing`. Raw blocks, other
    /// compressors and streams that are not one CRC32 block are decompressed.
    case xzCheckThenVerify
}

/// Copies a block's compressed bytes from an earlier image instead of
/// compressing it, where that image holds a block of the same content.
///
/// Safe by construction, not by trust: the writer names candidates by path
/// (`ReuseImage`); a compression worker reads each candidate, confirms that
/// it holds the new block's bytes (`ReuseConfirmation`), and copies it only
/// then. A damaged block fails to decompress (xz and zstd check their
/// frames) or differs, and is simply compressed.
///
/// The image must also not depend on reuse (the same bytes with and
/// without it), so a copied block must be what this compressor would have
/// written: same compressor, block size and options (checked when the
/// image is opened) and the same encoder. The first `probes` matches of
/// each image are compressed as well and compared with the stored bytes;
/// one difference marks the image foreign and ends copying from it.
final class BlockReuse: @unchecked Sendable {
    static let probes = 2

    /// By their number in the report; nil where refused.
    private let images: [ReuseImage?]
    private let blockSize: Int
    private let confirmation: ReuseConfirmation
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
        var images: [ReuseImage?] = []
        var sources: [ReuseReport.Source] = []
        for path in Self.expanding(paths) {
            var source = ReuseReport.Source(path: path)
            do {
                images.append(try ReuseImage(path, number: sources.count, options: options, settings: settings))
            } catch {
                images.append(nil)
                source.refusal = error.description
            }
            sources.append(source)
        }
        self.images = images
        blockSize = options.blockSize
        confirmation = options.reuseConfirmation
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
    var hasImages: Bool { images.contains { $0 != nil } }

    // MARK: On the writing thread: which stored blocks to try

    func candidates(forBlock index: Int, ofFileAt path: [UInt8]) -> [StoredBlock] {
        images.compactMap { $0?.block(index, ofFileAt: path) }
    }

    func candidates(forFragmentOpenedBy path: [UInt8], name: [UInt8], size: UInt64) -> [StoredBlock] {
        images.compactMap { $0?.fragmentBlock(openedBy: path, name: name, size: size) }
    }

    // MARK: On a compression worker

    /// Buffers, and each image's reader and decompressor, of one worker.
    final class Workspace {
        fileprivate let stored: UnsafeMutableRawBufferPointer
        fileprivate let plain: UnsafeMutableRawBufferPointer
        fileprivate var readers: [Int: (file: SquashFSFile, decompressor: Compressor)] = [:]

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
        var check: XZContentCheck?  // the new block's, once needed
        for candidate in buffer.reuseCandidates {
            // A probe must see a block of the same bytes, or it would call an
            // image foreign for a damaged block: it never goes on the check.
            let before = decision(for: candidate)
            guard before != .skip,
                let (stored, onCheck) = storedBytes(
                    of: candidate, equalTo: buffer.filled, mayUseCheck: before == .copy, check: &check, in: workspace)
            else { continue }
            // Decided again: another worker may have found the image foreign meanwhile.
            switch decision(for: candidate) {
            case .skip:
                continue
            case .probe:
                compress(buffer)
                let same = buffer.status >= 0 && buffer.isCompressed == candidate.isCompressed && bytesEqual(buffer.payload, stored)
                state.withLock {
                    if same { $0.probesPassed[candidate.image] += 1 } else { $0.report.sources[candidate.image].isForeign = true }
                }
            case .copy:
                if candidate.isCompressed {
                    UnsafeMutableRawBufferPointer(rebasing: buffer.output[0..<stored.count]).copyMemory(from: stored)
                    buffer.outputCount = stored.count
                }
                buffer.isCompressed = candidate.isCompressed
                state.withLock {
                    $0.report.sources[candidate.image].blocks += 1
                    $0.report.sources[candidate.image].storedBytes += UInt64(stored.count)
                    if onCheck { $0.report.sources[candidate.image].blocksOnCheck += 1 }
                }
            }
            return true
        }
        return false
    }

    private func decision(for candidate: StoredBlock) -> Decision {
        state.withLock { $0.decide(candidate.image) }
    }

    /// The candidate's stored bytes, if they hold exactly `content`, and
    /// whether that rests on their xz check only.
    private func storedBytes(
        of candidate: StoredBlock, equalTo content: UnsafeRawBufferPointer, mayUseCheck: Bool,
        check: inout XZContentCheck?, in workspace: Workspace
    ) -> (UnsafeRawBufferPointer, onCheck: Bool)? {
        guard let image = images[candidate.image], let reader = reader(for: image, in: workspace),
            let stored = reader.file.readStoredBlock(at: candidate.location, sizeWord: candidate.sizeWord, into: workspace.stored)
        else { return nil }
        if mayUseCheck, confirmation == .xzCheckThenVerify, image.compression == .xz, candidate.isCompressed,
            let storedCheck = XZContentCheck(stream: stored)
        {
            check = check ?? XZContentCheck(content: content)
            return storedCheck == check ? (stored, true) : nil
        }
        guard let length = reader.decompressor.decode(storedBlock: stored, isCompressed: candidate.isCompressed, into: workspace.plain),
            bytesEqual(UnsafeRawBufferPointer(rebasing: workspace.plain[0..<length]), content)
        else { return nil }
        return (stored, false)
    }

    private func reader(for image: ReuseImage, in workspace: Workspace) -> (file: SquashFSFile, decompressor: Compressor)? {
        if let existing = workspace.readers[image.number] { return existing }
        guard let file = try? SquashFSFile(descriptor: image.descriptor, writable: false, path: image.path),
            let decompressor = try? Compressor(reading: file, superBlock: image.superBlock, compression: image.compression, path: image.path)
        else { return nil }
        workspace.readers[image.number] = (file, decompressor)
        return (file, decompressor)
    }

    private func bytesEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        a.count == b.count && (a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0)
    }
}
