import ImageEngine
import Testing

/// Where a full fragment block ends (`FragmentBoundary`): after the tail
/// that ends in the block's last eighth and whose name hashes lowest, so
/// that the cut depends on the names near it, not on how full the block is.
@Suite("Fragment boundaries")
struct FragmentBoundaryTests {
    private let capacity = 1 << 20

    @Test("The block ends after the lowest name hash among the tails ending in its last eighth")
    func lowestHashInWindow() {
        let tails: [(end: Int, nameHash: UInt64)] = [
            (100_000, 1),  // lowest of all, but not in the window: the block would be half empty
            (900_000, 50), (930_000, 7), (960_000, 20), (1_000_000, 9),
        ]
        #expect(FragmentBoundary.tailsKept(tails, capacity: capacity) == 3)
    }

    @Test("Of equal hashes the latest wins (the fuller block); with none in the window every tail stays")
    func tiesAndEmptyWindow() {
        #expect(FragmentBoundary.tailsKept([(920_000, 5), (950_000, 5), (990_000, 8)], capacity: capacity) == 2)
        #expect(FragmentBoundary.tailsKept([(300_000, 5), (600_000, 1)], capacity: capacity) == 2)
    }

    @Test("A shift of a few kilobytes before the window keeps the cut at the same tail")
    func stableUnderShift() {
        // The window is 917,504 to 1,048,576 bytes: the tail hashed 12 is its lowest.
        let hashes: [UInt64] = [40, 3, 77, 12, 91, 25, 60]
        let ends = [890_000, 905_000, 930_000, 950_000, 975_000, 1_000_000, 1_040_000]
        func cut(shift: Int) -> Int {
            FragmentBoundary.tailsKept(zip(ends, hashes).map { ($0 + shift, $1) }, capacity: capacity)
        }
        #expect(cut(shift: 0) == 4)
        #expect(cut(shift: 4_000) == 4)
        #expect(cut(shift: -6_000) == 4)
    }
}
