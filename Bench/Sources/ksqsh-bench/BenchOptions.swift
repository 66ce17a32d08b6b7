/// The command line. Hand-parsed because the bench links nothing but
/// Foundation and Glibc; there are only a handful of options.
struct BenchOptions {
    /// The subtree `--quick` measures: ~140 MB / 6,700 entries of C sources,
    /// headers and firmware tables, a fair mix of small files and
    /// multi-block files that takes each tool ~20 s on 2 cores.
    static let quickSubtree = "drivers/net"
    static let defaultOut = "/var/tmp/ksqsh-bench"

    var quick = false
    var source: String?
    var ksqsh: String?
    var out = defaultOut
    var runs = 1
    var skipMissing = false
    var coldOnly = false
    var noCold = false
    var images: String?
    var help = false

    static let usage = """
        USAGE: ksqsh-bench [--quick] [--source DIR] [--ksqsh PATH] [--out DIR]
                           [--runs N] [--skip-missing] [--no-cold]
               ksqsh-bench --cold-only [--source DIR] [--images DIR] [--runs N] ...

        Squashes one tree with ksqsh, mksquashfs and gensquashfs in turn (xz,
        1 MiB blocks, all cores, warm page cache) and prints a Markdown table
        with each tool's wall time, CPU time, peak RSS and image size against
        mksquashfs, then the issue's targets for ksqsh as PASS/MISS.

        Then the cold reads (root only): `make defconfig` and `make
        modules_prepare` (-j all cores, fresh O= dir) from the plain tree, the
        mksquashfs image and the ksqsh image (both loop-mounted read-only),
        caches dropped before each step, in a table against the issue's
        targets (yes/NO).

        OPTIONS:
          --quick          Measure only the tree's \(quickSubtree)/ (~20 s per tool).
          --source DIR     Kernel tree to squash (default: \(KernelCache.tree),
                           unpacked from \(KernelCache.tarball) if missing).
          --ksqsh PATH     ksqsh binary (default: the one `make build` wrote,
                           .build/release/ksqsh).
          --out DIR        Scratch directory for images and logs; the bench's
                           own files in it are deleted at the end
                           (default: \(defaultOut)).
          --runs N         Run every tool N times, report medians (default: 1).
          --skip-missing   Leave out tools that are not installed or not built
                           instead of failing.
          --no-cold        Skip the cold reads.
          --cold-only      Only the cold reads, from images kept in --images
                           (built there when missing, made from another tree,
                           or, for ksqsh's, older than the ksqsh binary).
          --images DIR     Where --cold-only keeps its images
                           (default: --out/images).
          -h, --help       Show this help.

        EXIT STATUS: 0 when every tool and build succeeded (MISS and NO are
        reported, not fatal), 1 when a tool or build failed or a tool is
        missing, 64 on bad usage, 128+N on signal N.
        """

    static func parse(_ arguments: [String]) throws -> BenchOptions {
        var options = BenchOptions()
        var remaining = arguments[...]
        while let argument = remaining.popFirst() {
            // Accept both `--out DIR` and `--out=DIR`.
            let (name, inlineValue) = split(argument)
            func value() throws -> String {
                if let inlineValue { return inlineValue }
                guard let next = remaining.popFirst() else { throw BenchError.usage("\(name) needs a value") }
                return next
            }
            switch name {
            case "--quick": options.quick = true
            case "--skip-missing": options.skipMissing = true
            case "--cold-only": options.coldOnly = true
            case "--no-cold": options.noCold = true
            case "--images": options.images = try value()
            case "-h", "--help": options.help = true
            case "--source": options.source = try value()
            case "--ksqsh": options.ksqsh = try value()
            case "--out": options.out = try value()
            case "--runs":
                let text = try value()
                guard let runs = Int(text), runs >= 1 else {
                    throw BenchError.usage("--runs needs a whole number ≥ 1, not '\(text)'")
                }
                options.runs = runs
            default:
                throw BenchError.usage("unknown argument '\(argument)'")
            }
        }
        if options.coldOnly && (options.quick || options.noCold) {
            throw BenchError.usage("--cold-only needs the whole kernel tree and cannot be combined with --quick or --no-cold")
        }
        return options
    }

    private static func split(_ argument: String) -> (String, String?) {
        guard argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") else { return (argument, nil) }
        return (String(argument[..<equals]), String(argument[argument.index(after: equals)...]))
    }
}
