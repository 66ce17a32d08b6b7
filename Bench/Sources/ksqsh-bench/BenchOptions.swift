import ArgumentParser

/// The command line. Every option keeps the name and meaning it had when the
/// bench parsed its arguments by hand: `make bench BENCH_ARGS=…` and the
/// README pass them.
struct BenchOptions: ParsableArguments {
    /// The subtree `--quick` measures: ~140 MB / 6,700 entries of C sources,
    /// headers and firmware tables, a fair mix of small files and
    /// multi-block files that takes each tool ~20 s on 2 cores.
    static let quickSubtree = "drivers/net"
    static let defaultOut = "/var/tmp/ksqsh-bench"

    @Flag(help: "Measure only the tree's \(BenchOptions.quickSubtree)/ (~20 s per tool).")
    var quick = false

    @Option(
        help: ArgumentHelp(
            "Kernel tree to squash (default: \(KernelCache.tree), unpacked from \(KernelCache.tarball) if missing).",
            valueName: "dir"))
    var source: String?

    @Option(help: ArgumentHelp("ksqsh binary (default: the one `make build` wrote, .build/release/ksqsh).", valueName: "path"))
    var ksqsh: String?

    @Option(
        help: ArgumentHelp(
            "Scratch directory for images and logs; the bench's own files in it are deleted at the end.",
            valueName: "dir"))
    var out = BenchOptions.defaultOut

    @Option(help: ArgumentHelp("Run every tool N times, report medians.", valueName: "n"))
    var runs = 1

    @Flag(help: "Leave out tools that are not installed or not built instead of failing.")
    var skipMissing = false

    @Flag(help: "Skip the cold reads.")
    var noCold = false

    @Flag(
        help: """
            Only the cold reads, from images kept in --images (built there when missing, made from another tree, \
            or, for ksqsh's, older than the ksqsh binary).
            """)
    var coldOnly = false

    @Option(help: ArgumentHelp("Where --cold-only keeps its images (default: --out/images).", valueName: "dir"))
    var images: String?

    @Flag(
        help: """
            Only the upgrade squashes: the tree after a point release's edits and after 0.5 % scattered edits, and \
            linux-source-6.1 → 6.12, each squashed from scratch, with --reuse of the previous image, and (point release) \
            by mksquashfs.
            """)
    var reuseOnly = false

    @Option(
        help: ArgumentHelp(
            "With --reuse-only: which upgrades, comma-separated: point, scattered, major (default: all).", valueName: "list"))
    var upgrades = "point,scattered,major"

    func validate() throws {
        guard runs >= 1 else { throw ValidationError("--runs needs a whole number ≥ 1, not '\(runs)'") }
        if reuseOnly && (quick || coldOnly) {
            throw ValidationError("--reuse-only needs the whole kernel tree and cannot be combined with --quick or --cold-only")
        }
        if coldOnly && (quick || noCold) {
            throw ValidationError("--cold-only needs the whole kernel tree and cannot be combined with --quick or --no-cold")
        }
    }
}
