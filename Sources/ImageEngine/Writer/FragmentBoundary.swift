import SystemSupport

/// Where a full fragment block ends: chosen so that an upgrade's edits
/// disturb the blocks around them only, and the next version's image can
/// reuse the previous one's compressed fragment blocks (`squash --reuse`).
///
/// Filling each block to the brim ties every block's members to the sizes
/// of all files before it: one file that grows shifts the membership of
/// every later block. Here, when the next tail does not fit, the block ends
/// after the tail whose file *name* hashes lowest among those that may end
/// it: any tail ending in the block's last eighth, and a tail with a rare
/// name (one in 256) ending anywhere in its second half; the tails after
/// it open the next block. An edit shifts the window by a few bytes or
/// kilobytes, which rarely moves its lowest name out of it, so two versions
/// of a tree cut at the same files again at once (the "winnowing" of
/// Schleimer et al., SIGMOD 2003). Where an edit did move a cut by more
/// than the window, the two versions' blocks no longer end near each other
/// and would stay apart for a dozen blocks; a rare name within the second
/// half of a block in both ends it in both, in step again (a 2 % wider
/// choice that cuts a point release's recompressed blocks by a quarter,
/// simulated over 40 seeds). Names, not contents: an upgrade edits contents
/// but rarely renames; the name without its directory, so that a renamed
/// directory keeps its blocks. Measured on linux-source-6.12, the image
/// grows by 0.2 % (README, "Performance").
///
/// Changing these rules changes every image: the first upgrade after such a
/// change reuses little (it stays correct: reuse compares every block).
package enum FragmentBoundary {
    /// Any tail may end a block in its last `1 / windowFraction`.
    package static let windowFraction = 8
    /// A tail whose name hashes below `rareNameBelow` may end it anywhere in
    /// its last `1 / rareWindowFraction`. Rare hashes are also the lowest, so
    /// such a tail wins wherever it may end the block.
    package static let rareWindowFraction = 2
    package static let rareNameBelow = UInt64.max >> 8

    package static func nameHash(_ name: [UInt8]) -> UInt64 {
        name.withUnsafeBytes { BlockHash.hash($0) }
    }

    /// How many of a full block's tails stay in it, given where each ends
    /// and its name's hash; the rest go to the next block. All stay when
    /// none may end it (a tail too big to leave room for another).
    package static func tailsKept(_ tails: [(end: Int, nameHash: UInt64)], capacity: Int) -> Int {
        let windowStart = capacity - capacity / windowFraction
        let rareWindowStart = capacity - capacity / rareWindowFraction
        var best: Int?
        for (index, tail) in tails.enumerated() where tail.end <= capacity {
            guard tail.end >= (tail.nameHash < rareNameBelow ? rareWindowStart : windowStart) else { continue }
            if best == nil || tail.nameHash <= tails[best!].nameHash { best = index }
        }
        return best.map { $0 + 1 } ?? tails.count
    }
}
