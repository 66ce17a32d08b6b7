import Dispatch
import Foundation
import Glibc
import Testing

/// Flips bytes all over a real image — super block, data, every table —
/// and runs the real `ksqsh verify IMAGE TREE` on each copy: every flip must
/// be reported as damage (40, 41 or 42, one headline naming the image),
/// never a crash, a signal or a hang, unless a rule shows the byte is read
/// by nothing (padding past bytes_used, an informational super block field).
/// Then `status` and `mount` meet a sample of the damaged images.
///
/// The offsets come from a seeded generator; the seed is printed, and
/// KSQSH_SWEEP_SEED=N (or =random) replays or varies it.
@Suite("Corruption sweep", .serialized, .hangGuard)
struct CorruptionSweepTests {
    static let defaultSeed: UInt64 = 0x6b73_7173_6863_6f72

    static var seed: UInt64 {
        switch ProcessEnvironment.value("KSQSH_SWEEP_SEED") {
        case nil, "": defaultSeed
        case "random": UInt64.random(in: 1...UInt64.max)
        case let text?: UInt64(text) ?? defaultSeed
        }
    }

    @Test("≥ 200 flipped bytes across every region: verify reports each as damage, or the byte is padding by rule")
    func sweep() throws {
        let seed = Self.seed
        print("corruption sweep: seed \(seed) (replay with KSQSH_SWEEP_SEED=\(seed))")
        let image = try SweepImage("corruption-sweep")
        defer { image.remove() }
        let cases = image.regions.sampleCorruptions(seed: seed)
        let outcomes = try image.verifyAll(cases)

        var byRegion: [SweepRegion.Name: (tried: Int, detected: Int, padding: Int)] = [:]
        for outcome in outcomes {
            var row = byRegion[outcome.corruption.region] ?? (0, 0, 0)
            row.tried += 1
            switch outcome.verdict {
            case .detected: row.detected += 1
            case .padding: row.padding += 1
            case .failed: break
            }
            byRegion[outcome.corruption.region] = row
        }
        for name in SweepRegion.Name.allCases {
            guard let row = byRegion[name] else { continue }
            print("corruption sweep: \(name.rawValue): \(row.tried) tried, \(row.detected) detected, \(row.padding) padding")
        }
        let failures = outcomes.filter { if case .failed = $0.verdict { true } else { false } }
        for failure in failures.prefix(30) {
            Issue.record("\(failure.corruption): \(failure.verdict)")
        }
        let detected = outcomes.count { $0.verdict == .detected }
        let padding = outcomes.count { $0.verdict == .padding }
        #expect(outcomes.count >= 200, "only \(outcomes.count) offsets were tried")
        for name in SweepRegion.Name.allCases where image.regions.contains(name) {
            #expect((byRegion[name]?.tried ?? 0) > 0, "no offset was tried in \(name.rawValue)")
        }
        print(
            "reliability-summary\tcorruption sweep\t\(outcomes.count)\t\(detected + padding)\t"
                + "\(detected) detected, \(padding) padding, \(failures.count) missed, seed \(seed)")
    }

    @Test(
        "status reports a damaged image and mount refuses it (62, one line, nothing left mounted); data-only damage mounts",
        .enabled(if: geteuid() == 0 && LifecycleRequirements.hasLoopDevices, "needs root and loop devices")
    )
    func statusAndMountOnDamagedImages() throws {
        let image = try SweepImage("corruption-mount")
        defer { image.remove() }
        let version = LifecycleRoot.version
        for sample in try image.lifecycleSamples() {
            let root = try LifecycleRoot("corrupt-\(sample.corruption.region.rawValue)")
            defer { root.tearDown() }
            let installed = root.image(version)
            try FS.writeFile(installed, sample.bytes)

            let status = try root.ksqsh("status")
            #expect(status.succeeded && status.stderr.isEmpty, "status must list, not fail: \(sample.corruption): \(status)")
            let damageLine = status.stdoutText.split(separator: "\n").first { $0.contains("image is damaged") }
            #expect((damageLine != nil) == sample.metadataDamaged, "status on \(sample.corruption): \(status)")

            let before = try root.snapshot()
            let mount = try root.ksqsh("mount", kernel: version)
            if sample.metadataDamaged {
                expectRefusal(mount, exit: Ksqsh.Exit.mountFailed, naming: [installed], in: root, before: before)
                #expect(mount.stderrText.contains("damaged"), "mount should say the image is damaged: \(mount)")
                #expect(root.mounts.isEmpty, "nothing may be mounted under ROOT: \(root.mounts)")
                #expect(LoopDevices.attached(to: installed).isEmpty, "no loop device may stay attached")
                #expect(!FS.exists(root.mountPoint(version)), "no mount point may be left behind")
            } else {
                // Intact metadata, damaged data: the kernel mounts it and fails
                // only on reading that file; `ksqsh verify` is what finds it.
                #expect(mount.succeeded, "data-only damage at \(sample.corruption) mounts: \(mount)")
                #expect(root.isMounted(version))
            }
        }
    }
}

/// One flipped byte.
struct Corruption: Sendable, CustomStringConvertible {
    let offset: Int
    let mask: UInt8
    let region: SweepRegion.Name
    /// Why the byte is read by nothing, when a rule says so.
    let paddingRule: String?

    var description: String {
        "byte \(offset) ^ 0x\(String(mask, radix: 16)) in \(region.rawValue)" + (paddingRule.map { " (padding: \($0))" } ?? "")
    }
}

struct SweepRegion: Sendable {
    enum Name: String, CaseIterable, Sendable {
        case superBlock = "super block"
        case compressorOptions = "compressor options"
        case data
        case inodeTable = "inode table"
        case directoryTable = "directory table"
        case fragmentBlocks = "fragment table blocks"
        case fragmentLookup = "fragment lookup table"
        case idBlocks = "id table blocks"
        case idLookup = "id lookup table"
        case padding = "padding past bytes_used"
    }

    let name: Name
    let range: Range<Int>
    /// How many offsets to draw (all of them if the region is smaller).
    let share: Int
}

/// The regions of a ksqsh image, found from its super block alone.
struct SweepRegions: Sendable {
    let regions: [SweepRegion]
    let superBlock: SuperBlock
    /// Bytes of uncompressed fragment-table blocks that are the unused fourth
    /// word of an entry.
    let unusedFragmentWords: Set<Int>
    /// Whether every id-table block is stored uncompressed (then the
    /// "uncompressed ids" flag is consistent either way).
    let idBlocksUncompressed: Bool

    func contains(_ name: SweepRegion.Name) -> Bool { regions.contains { $0.name == name } }

    init(_ bytes: [UInt8]) throws {
        let sb = try SuperBlock(bytes)
        superBlock = sb
        let used = Int(sb.bytesUsed)
        try #require(sb.xattrIDTableStart == UInt64.max && sb.exportTableStart == UInt64.max, "ksqsh writes no xattr or export table")
        try #require(sb.fragmentCount > 0, "the fixture must have fragments")
        let fragmentBlocks = Int(SuperBlock.u64(bytes, Int(sb.fragmentTableStart)))
        let idBlocks = Int(SuperBlock.u64(bytes, Int(sb.idTableStart)))
        var dataStart = SuperBlock.size
        var regions = [SweepRegion(name: .superBlock, range: 0..<SuperBlock.size, share: SuperBlock.size)]
        if sb.flags & 0x0400 != 0 {
            let options = MetadataBlockHeader(bytes, at: SuperBlock.size)
            dataStart += 2 + options.size
            regions.append(SweepRegion(name: .compressorOptions, range: SuperBlock.size..<dataStart, share: 10))
        }
        regions += [
            SweepRegion(name: .data, range: dataStart..<Int(sb.inodeTableStart), share: 40),
            SweepRegion(name: .inodeTable, range: Int(sb.inodeTableStart)..<Int(sb.directoryTableStart), share: 30),
            SweepRegion(name: .directoryTable, range: Int(sb.directoryTableStart)..<fragmentBlocks, share: 30),
            SweepRegion(name: .fragmentBlocks, range: fragmentBlocks..<Int(sb.fragmentTableStart), share: 24),
            SweepRegion(name: .fragmentLookup, range: Int(sb.fragmentTableStart)..<idBlocks, share: 8),
            SweepRegion(name: .idBlocks, range: idBlocks..<Int(sb.idTableStart), share: 8),
            SweepRegion(name: .idLookup, range: Int(sb.idTableStart)..<used, share: 8),
            SweepRegion(name: .padding, range: used..<bytes.count, share: 12),
        ]
        for (region, next) in zip(regions, regions.dropFirst()) {
            try #require(region.range.upperBound == next.range.lowerBound && !region.range.isEmpty, "regions must follow each other: \(region) then \(next)")
        }
        self.regions = regions

        var unused: Set<Int> = []
        var position = fragmentBlocks
        while position < Int(sb.fragmentTableStart) {
            let header = MetadataBlockHeader(bytes, at: position)
            if !header.compressed {
                for offset in 0..<header.size where offset % 16 >= 12 { unused.insert(position + 2 + offset) }
            }
            position += 2 + header.size
        }
        unusedFragmentWords = unused
        var allRaw = true
        position = idBlocks
        while position < Int(sb.idTableStart) {
            let header = MetadataBlockHeader(bytes, at: position)
            allRaw = allRaw && !header.compressed
            position += 2 + header.size
        }
        idBlocksUncompressed = allRaw
    }

    /// Super block flag bits no reader acts on and this image cannot
    /// contradict: "check" (unused since 4.0), "always fragments", "no
    /// duplicates" (how the writer worked), "uncompressed xattrs" and "no
    /// xattrs" (there are none), "uncompressed ids" when every id block is.
    var informationalFlags: UInt16 {
        0x0004 | 0x0020 | 0x0040 | 0x0100 | 0x0200 | (idBlocksUncompressed ? 0x0800 : 0)
    }

    /// The padding rule: bytes nothing reads.
    func paddingRule(offset: Int, mask: UInt8) -> String? {
        if offset >= Int(superBlock.bytesUsed) { return "past bytes_used" }
        if (8..<12).contains(offset) { return "super block modification time, informational" }
        if offset == 24 || offset == 25 {
            let bits = UInt16(mask) << (offset == 25 ? 8 : 0)
            if bits & ~informationalFlags == 0 { return "informational flag bits 0x\(String(bits, radix: 16))" }
        }
        if unusedFragmentWords.contains(offset) { return "unused word of a fragment table entry" }
        return nil
    }

    /// A stratified sample: each region's share of distinct offsets (every
    /// offset of a small region), each flipped by a random non-zero mask.
    func sampleCorruptions(seed: UInt64) -> [Corruption] {
        var generator = SplitMix64(seed: seed)
        var result: [Corruption] = []
        for region in regions {
            var offsets = Array(region.range)
            if offsets.count > region.share {
                offsets.shuffle(using: &generator)
                offsets = Array(offsets.prefix(region.share)).sorted()
            }
            for offset in offsets {
                let mask = UInt8.random(in: 1...255, using: &generator)
                result.append(Corruption(offset: offset, mask: mask, region: region.name, paddingRule: paddingRule(offset: offset, mask: mask)))
            }
        }
        return result
    }
}

/// The fixture tree squashed with 64 KiB blocks, so a small tree has full
/// blocks, short last blocks and fragments, plus enough entries that the
/// inode and directory tables span several metadata blocks.
struct SweepImage {
    let work: Workspace
    let tree: ByteString
    let image: ByteString
    let bytes: [UInt8]
    let regions: SweepRegions

    init(_ label: String) throws {
        work = try Workspace(label)
        do {
            tree = work.source
            try work.buildFixture(large: false)
            try FS.mkdir(tree / "many")
            for directory in 0..<12 {
                let sub = tree / "many" / ByteString("directory-with-a-long-name-\(directory)")
                try FS.mkdir(sub)
                for file in 0..<40 {
                    try FS.writeFile(sub / ByteString("entry-\(file)-of-directory-\(directory).c"), Content.text(200 + file * 37, seed: UInt64(directory * 100 + file)))
                }
            }
            image = work.image
            try Ksqsh.squashChecked(tree, image, ["--block-size", "64K"])
            bytes = try FS.readFile(image)
            regions = try SweepRegions(bytes)
            for table in [SweepRegion.Name.inodeTable, .directoryTable] {
                let range = try #require(regions.regions.first { $0.name == table }?.range)
                var blocks = 0
                var position = range.lowerBound
                while position < range.upperBound {
                    position += 2 + MetadataBlockHeader(bytes, at: position).size
                    blocks += 1
                }
                try #require(blocks >= 3, "\(table.rawValue) must span several metadata blocks, not \(blocks)")
            }
        } catch {
            work.remove()
            throw error
        }
    }

    func remove() { work.remove() }

    func damaged(_ corruption: Corruption) -> [UInt8] {
        var copy = bytes
        copy[corruption.offset] ^= corruption.mask
        return copy
    }

    enum Verdict: Equatable, CustomStringConvertible {
        case detected
        case padding
        case failed(String)

        var description: String {
            switch self {
            case .detected: "detected"
            case .padding: "padding"
            case .failed(let why): why
            }
        }
    }

    struct Outcome {
        let corruption: Corruption
        let verdict: Verdict
    }

    /// Runs `ksqsh verify COPY TREE` on every corruption, a few at a time.
    func verifyAll(_ corruptions: [Corruption]) throws -> [Outcome] {
        final class Collected: @unchecked Sendable {
            let lock = NSLock()
            var outcomes: [Int: Outcome] = [:]
            var error: Error?
        }
        let collected = Collected()
        DispatchQueue.concurrentPerform(iterations: 3) { worker in
            for index in stride(from: worker, to: corruptions.count, by: 3) {
                do {
                    let outcome = try verify(corruptions[index], copyName: ByteString("damaged-\(worker).sqfs"))
                    collected.lock.withLock { collected.outcomes[index] = outcome }
                } catch {
                    collected.lock.withLock { collected.error = collected.error ?? error }
                }
            }
        }
        if let error = collected.error { throw error }
        return corruptions.indices.map { collected.outcomes[$0]! }
    }

    private func verify(_ corruption: Corruption, copyName: ByteString) throws -> Outcome {
        let copy = work.imageDirectory / copyName
        try FS.writeFile(copy, damaged(corruption))
        defer { try? FS.unlink(copy) }
        let result = try Ksqsh.run(["verify", copy, tree, "--quiet", "--jobs", "1"], timeout: .seconds(30))
        if let problem = Self.uncleanFailure(result, image: copy) {
            return Outcome(corruption: corruption, verdict: .failed(problem))
        }
        if corruption.paddingRule != nil { return Outcome(corruption: corruption, verdict: .padding) }
        guard result.exitCode != 0 else {
            return Outcome(corruption: corruption, verdict: .failed("verify passed the damaged image"))
        }
        return Outcome(corruption: corruption, verdict: .detected)
    }

    /// Anything but success or a clean 40/41/42 report.
    static func uncleanFailure(_ result: ProcessResult, image: ByteString) -> String? {
        if result.timedOut { return "verify hung (killed after 30 s): \(result)" }
        guard let code = result.exitCode else { return "verify died: \(result)" }
        if code == 0 { return nil }
        guard [Ksqsh.Exit.imageUnreadable, Ksqsh.Exit.imageCorrupt, Ksqsh.Exit.imageDiffers].contains(code) else {
            return "verify exited \(code), not 40, 41 or 42: \(result)"
        }
        let lines = result.stderrLines
        guard let headline = lines.first, headline.hasPrefix("ksqsh: "), headline.contains(image.string) else {
            return "verify's first stderr line must name the image: \(result)"
        }
        guard lines.dropFirst().allSatisfy({ $0.first == " " }) else {
            return "verify printed more than one unindented line (a crash trace?): \(result)"
        }
        return nil
    }

    struct LifecycleSample {
        let corruption: Corruption
        let bytes: [UInt8]
        /// Damage the metadata check finds (anything but data blocks).
        let metadataDamaged: Bool
    }

    /// For each of super block, inode table, directory table, fragment table
    /// and data: the first flip (by a fixed seed) that `ksqsh verify IMAGE`,
    /// without the tree, reports — damage to the image itself.
    func lifecycleSamples() throws -> [LifecycleSample] {
        let wanted: [SweepRegion.Name] = [.superBlock, .inodeTable, .directoryTable, .fragmentBlocks, .fragmentLookup, .data]
        let candidates = regions.sampleCorruptions(seed: CorruptionSweepTests.defaultSeed).filter { $0.paddingRule == nil }
        var samples: [LifecycleSample] = []
        for name in wanted {
            for corruption in candidates where corruption.region == name {
                let copy = work.imageDirectory / "sample.sqfs"
                try FS.writeFile(copy, damaged(corruption))
                defer { try? FS.unlink(copy) }
                let alone = try Ksqsh.run(["verify", copy, "--quiet", "--jobs", "1"], timeout: .seconds(30))
                guard alone.exitCode == Ksqsh.Exit.imageCorrupt || alone.exitCode == Ksqsh.Exit.imageUnreadable else { continue }
                samples.append(LifecycleSample(corruption: corruption, bytes: damaged(corruption), metadataDamaged: name != .data))
                break
            }
        }
        try #require(Set(samples.map(\.corruption.region)).count == wanted.count, "a sample for each of \(wanted.map(\.rawValue)): \(samples.map(\.corruption))")
        return samples
    }
}
