import ImageEngine
import Testing

/// Where a full fragment block ends (`FragmentBoundary`): after the tail
/// that ends in the block's last eighth (or, with a rare name, in its
/// second half) and whose name hashes lowest, so that the cut depends on
/// the names near it, not on how full the block is.
@Suite("Fragment boundaries")
struct FragmentBoundaryTests {
    private let capacity = 1 << 20

    /// A name hash that is not rare; `rank` orders them.
    private func common(_ rank: UInt64) -> UInt64 { FragmentBoundary.rareNameBelow + rank }

    @Test("The block ends after the lowest name hash among the tails ending in its last eighth")
    func lowestHashInWindow() {
        let tails: [(end: Int, nameHash: UInt64)] = [
            (100_000, common(1)),  // lowest of all, but not in the window: the block would be half empty
            (900_000, common(50)), (930_000, common(7)), (960_000, common(20)), (1_000_000, common(9)),
        ]
        #expect(FragmentBoundary.tailsKept(tails, capacity: capacity) == 3)
    }

    @Test("Of equal hashes the latest wins (the fuller block); with none in the window every tail stays")
    func tiesAndEmptyWindow() {
        #expect(FragmentBoundary.tailsKept([(920_000, common(5)), (950_000, common(5)), (990_000, common(8))], capacity: capacity) == 2)
        #expect(FragmentBoundary.tailsKept([(300_000, common(5)), (600_000, common(1))], capacity: capacity) == 2)
    }

    @Test("A shift of a few kilobytes before the window keeps the cut at the same tail")
    func stableUnderShift() {
        // The window is 917,504 to 1,048,576 bytes: the tail hashed 12 is its lowest.
        let hashes = [40, 3, 77, 12, 91, 25, 60].map(common)
        let ends = [890_000, 905_000, 930_000, 950_000, 975_000, 1_000_000, 1_040_000]
        func cut(shift: Int) -> Int {
            FragmentBoundary.tailsKept(zip(ends, hashes).map { ($0 + shift, $1) }, capacity: capacity)
        }
        #expect(cut(shift: 0) == 4)
        #expect(cut(shift: 4_000) == 4)
        #expect(cut(shift: -6_000) == 4)
    }

    @Test("A rare name may end the block anywhere in its second half, and wins there; not in its first half")
    func rareNameInSecondHalf() {
        let rare = FragmentBoundary.rareNameBelow - 1
        let tails: [(end: Int, nameHash: UInt64)] = [
            (300_000, 0),  // rarest of all, but the block would be less than half full
            (600_000, rare), (950_000, common(0)), (1_000_000, common(1)),
        ]
        #expect(FragmentBoundary.tailsKept(tails, capacity: capacity) == 2)
    }

    /// Packs tails of the given sizes and name hashes into blocks the way
    /// `DataWriter` does; returns the index of the last tail of each block.
    private func blockEnds(_ tails: [(size: Int, nameHash: UInt64)]) -> [Int] {
        var ends: [Int] = []
        var open: [(end: Int, nameHash: UInt64)] = []
        var first = 0  // index of the open block's first tail
        for tail in tails {
            while let last = open.last, last.end + tail.size > capacity {
                let kept = FragmentBoundary.tailsKept(open, capacity: capacity)
                ends.append(first + kept - 1)
                let cut = open[kept - 1].end
                open = open[kept...].map { ($0.end - cut, $0.nameHash) }
                first += kept
            }
            open.append(((open.last?.end ?? 0) + tail.size, tail.nameHash))
        }
        return ends
    }

    @Test("Two versions whose blocks drifted further apart than the last eighth end blocks at the same files again after a rare name")
    func inStepAfterRareName() {
        // 400 tails of 20 to 40 KB with common names, one rare name among them.
        var state: UInt64 = 7
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state
        }
        var tails = (0..<400).map { _ in (size: 20_000 + Int(next() >> 50), nameHash: FragmentBoundary.rareNameBelow + next() >> 9) }
        let rareAt = 200
        tails[rareAt].nameHash = 1
        // The newer version has 9 tails more in front: its blocks start 200
        // to 360 KB later, beyond where the older version's could end.
        let newer = (0..<9).map { _ in (size: 20_000 + Int(next() >> 50), nameHash: FragmentBoundary.rareNameBelow + next() >> 9) } + tails
        let older = Set(blockEnds(tails))
        let shared = blockEnds(newer).map { $0 - 9 }.filter { older.contains($0) }
        #expect(shared.first == rareAt, "blocks end at the same tails from tail \(shared.first ?? -1) on")
        #expect(blockEnds(newer).map { $0 - 9 }.filter { $0 >= rareAt } == blockEnds(tails).filter { $0 >= rareAt })
    }
}
