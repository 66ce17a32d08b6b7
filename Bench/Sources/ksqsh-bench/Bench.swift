import ArgumentParser
import Foundation
import Glibc
import SystemSupport

/// The run from start to finish: options → tools → input → measurements → report.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ksqsh-bench",
        abstract: "Compare ksqsh with mksquashfs and gensquashfs on one kernel tree, then read builds from their images.",
        discussion: """
            Squashes one tree with ksqsh, mksquashfs and gensquashfs in turn (xz, 1 MiB blocks, all cores, warm \
            page cache) and prints a Markdown table with each tool's wall time, CPU time, peak RSS and image size \
            against mksquashfs, then the issue's targets for ksqsh as PASS/MISS.

            Then the cold reads (root only): `make defconfig` and `make modules_prepare` (-j all cores, fresh O= \
            dir) from the plain tree, the mksquashfs image and the ksqsh image (both loop-mounted read-only), \
            caches dropped before each step, in a table against the issue's targets (yes/NO).

            Exit status: 0 when every tool and build succeeded (MISS and NO are reported, not fatal), 1 when a \
            tool or build failed or a tool is missing, 64 on bad usage, 128+N on signal N.
            """)

    @OptionGroup var options: BenchOptions

    /// As swift-argument-parser's own `main()`, except that a usage error is
    /// one line on stderr (status 64): `--help` gives the usage.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let text = message(for: error)
            guard exitCode(for: error) == .validationFailure, !(error is ExitCode), !text.isEmpty else {
                exit(withError: error)
            }
            Console.error("ksqsh-bench: error: \(text) (see --help)")
            Glibc.exit(ExitCode.validationFailure.rawValue)
        }
    }

    func run() throws {
        Interruption.install()
        let status: Int32
        do {
            status = try Self.perform(options)
        } catch {
            Console.error("ksqsh-bench: error: \(error)")
            throw ExitCode((error as? BenchError)?.exitStatus ?? 1)
        }
        if status != 0 { throw ExitCode(status) }
    }

    private static func perform(_ options: BenchOptions) throws -> Int32 {
        let scratch = try Scratch(out: options.out)
        defer { scratch.remove() }

        // ksqsh's own default, so the tools it is compared with get the same cores.
        let jobs = Processors.available
        let tools = Toolset(ksqshPath: options.ksqsh ?? Executables.builtKsqsh)
        // --cold-only needs only ksqsh and mksquashfs, and only to build missing images.
        if !tools.missing.isEmpty && !options.skipMissing && !options.coldOnly {
            throw BenchError(
                tools.missing.joined(separator: "\n") + "\n(pass --skip-missing to measure the other tools anyway)")
        }
        for problem in tools.missing { print("SKIP: \(problem)") }

        let source = try resolveSource(options, logDirectory: scratch.path)
        if options.coldOnly { return try runColdOnly(options, source: source, tools: tools, jobs: jobs, scratch: scratch) }
        if options.reuseOnly {
            let failures = try ReuseBench(
                tree: source, tools: tools, jobs: jobs, runs: options.runs, scratch: scratch,
                upgrades: Set(options.upgrades.split(separator: ",").map(String.init))
            ).run()
            if !failures.isEmpty { Console.error("\nksqsh-bench: FAILED: \(failures.joined(separator: ", "))") }
            return failures.isEmpty ? 0 : 1
        }
        // The Debian tarball the default tree comes from: squashed as it is, too.
        let isKernelCache = source == URL(fileURLWithPath: KernelCache.tree).standardizedFileURL.path
        let tarball = isKernelCache && FileManager.default.fileExists(atPath: KernelCache.tarball) ? KernelCache.tarball : nil
        let contenders = Contender.lineUp(source: source, tarball: tarball, scratch: scratch.path, tools: tools, jobs: jobs)
        printHeader(options: options, source: source, contenders: contenders, jobs: jobs, scratch: scratch)

        let clock = ContinuousClock()
        let start = clock.now
        let stats = try PageCache.warm(source)
        print(
            "input:    \(stats.entries.formatted()) entries, \(stats.regularFiles.formatted()) files, "
                + "\(String(format: "%.1f", Double(stats.bytes) / 1e6)) MB (all read once in "
                + "\(String(format: "%.1f", (clock.now - start).seconds)) s to warm the page cache)\n")

        let rows = try measure(contenders, runs: options.runs, scratch: scratch)
        print("\n" + Report(rows: rows, runs: options.runs).text)

        var failures = rows.filter(\.failed).map(\.contender.label)
        if let coldReads = try coldReadsAfterSquashing(rows, options: options, source: source, jobs: jobs, scratch: scratch) {
            failures += coldReads
        }
        if !failures.isEmpty {
            Console.error("\nksqsh-bench: FAILED: \(failures.joined(separator: ", ")) (see the errors above)")
            return 1
        }
        return 0
    }

    // MARK: - Cold reads

    /// After the compression rows: the cold reads from the images the last
    /// run of ksqsh and mksquashfs left behind. Returns the labels of failed
    /// cold-read sources, or nil when the cold reads were skipped.
    private static func coldReadsAfterSquashing(
        _ rows: [RowResult], options: BenchOptions, source: String, jobs: Int, scratch: Scratch
    ) throws -> [String]? {
        let skip: String? =
            if options.noCold { "--no-cold" }
            else if options.quick { "--quick measures only \(BenchOptions.quickSubtree)/, which has no kernel build" }
            else { ColdReads.obstacle() }
        if let skip {
            print("\nSKIP: cold reads (\(skip))")
            return nil
        }
        func image(_ role: Contender.Role) -> String? {
            rows.first { $0.contender.role == role && $0.runnable && !$0.samples.isEmpty }?.contender.image
        }
        guard let ksqsh = image(.ksqsh), let mksquashfs = image(.baseline) else {
            print("\nSKIP: cold reads (the ksqsh or mksquashfs image is missing: that row failed or was skipped)")
            return nil
        }
        return try measureColdReads(source: source, ksqsh: ksqsh, mksquashfs: mksquashfs, runs: options.runs, jobs: jobs, scratch: scratch)
    }

    /// `--cold-only`: the cold reads alone, from images kept in --images.
    private static func runColdOnly(
        _ options: BenchOptions, source: String, tools: Toolset, jobs: Int, scratch: Scratch
    ) throws -> Int32 {
        if let obstacle = ColdReads.obstacle() { throw BenchError(obstacle) }
        print("# ksqsh-bench --cold-only\n")
        print("source:   \(source)")
        printLoad()
        let images = ColdImages(directory: options.images ?? "\(options.out)/images", source: source)
        let (ksqsh, mksquashfs) = try images.provide(tools: tools, jobs: jobs, scratch: scratch)
        let failures = try measureColdReads(
            source: source, ksqsh: ksqsh, mksquashfs: mksquashfs, runs: options.runs, jobs: jobs, scratch: scratch)
        if !failures.isEmpty {
            Console.error("\nksqsh-bench: FAILED: cold reads from \(failures.joined(separator: ", ")) (see the errors above)")
            return 1
        }
        return 0
    }

    /// Measures, prints the table, returns the labels of sources that failed.
    private static func measureColdReads(
        source: String, ksqsh: String, mksquashfs: String, runs: Int, jobs: Int, scratch: Scratch
    ) throws -> [String] {
        print("\n## Cold reads: make defconfig, then make modules_prepare\n")
        printLoad()
        let coldReads = ColdReads(
            tree: source, sources: ColdReads.sources(ksqshImage: ksqsh, mksquashfsImage: mksquashfs),
            scratch: scratch, jobs: jobs, runs: runs)
        let rows = try coldReads.measure()
        print("\n" + ColdReadReport(rows: rows, runs: runs, jobs: jobs).text)
        return rows.filter(\.failed).map(\.source.label)
    }

    /// --source wins; otherwise the shared kernel cache. --quick narrows either to its subtree.
    private static func resolveSource(_ options: BenchOptions, logDirectory: String) throws -> String {
        var source = try options.source ?? KernelCache.ensureUnpacked(logDirectory: logDirectory)
        if options.quick { source += "/\(BenchOptions.quickSubtree)" }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: source, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw BenchError("source \(source) is not a directory")
        }
        return URL(fileURLWithPath: source).standardizedFileURL.path
    }

    // MARK: - Measuring

    /// Runs are interleaved (every tool once, then again) so that slow drift
    /// in the machine's state spreads over all rows instead of one.
    private static func measure(_ contenders: [Contender], runs: Int, scratch: Scratch) throws -> [RowResult] {
        var rows = contenders.map { RowResult(contender: $0, status: $0.executable == nil ? .skipped : .measured) }
        for run in 1...runs {
            for index in rows.indices where rows[index].runnable {
                let contender = rows[index].contender
                guard let executable = contender.executable else { continue }
                let prefix = runs == 1 ? "" : "[run \(run)/\(runs)] "
                print("\(prefix)\(contender.label): \(contender.commandLine)")
                Console.flush()  // show which tool is running while it runs
                // The last ksqsh and mksquashfs images stay for the cold reads.
                let keep = contender.role == .ksqsh || contender.role == .baseline
                if let measurement = try measureOnce(contender, executable: executable, scratch: scratch, keepImage: keep) {
                    rows[index].samples.append(measurement)
                    print("  " + summary(measurement))
                } else {
                    // A failed tool stays failed: later runs would only repeat the noise.
                    rows[index].status = .failed
                }
            }
        }
        return rows
    }

    /// One timed run; nil when the tool failed (already reported).
    /// `keepImage` leaves the image in place for the cold reads.
    static func measureOnce(
        _ contender: Contender, executable: String, scratch: Scratch, keepImage: Bool = false
    ) throws -> Measurement? {
        let files = FileManager.default
        let name = URL(fileURLWithPath: contender.image).deletingPathExtension().lastPathComponent
        // Every tool starts from the same state: no previous image to
        // append to or overwrite.
        try? files.removeItem(atPath: contender.image)
        let child = ChildProcess(
            executable: executable, arguments: contender.arguments,
            stdoutPath: "\(scratch.path)/\(name).stdout", stderrPath: "\(scratch.path)/\(name).stderr")
        let usage = try child.run()
        try Interruption.check()

        guard usage.termination.succeeded else {
            shout(
                contender, "ended with \(usage.termination) after \(String(format: "%.1f", usage.wallSeconds)) s",
                stderr: child.stderrPath)
            return nil
        }
        guard let size = (try? files.attributesOfItem(atPath: contender.image))?[.size] as? Int else {
            shout(contender, "exited 0 but wrote no image at \(contender.image)", stderr: child.stderrPath)
            return nil
        }
        // Drop the image and flush what is left, so the next tool neither
        // competes with this one's writeback nor finds the disk fuller.
        if !keepImage { try? files.removeItem(atPath: contender.image) }
        sync()
        return Measurement(
            wallSeconds: usage.wallSeconds, cpuSeconds: usage.cpuSeconds,
            peakRSSBytes: Double(usage.peakRSSKiB) * 1024, imageBytes: Double(size))
    }

    /// A failure must not scroll by unnoticed in a CI log: print it to
    /// stderr at once, with the command and the end of the tool's stderr.
    private static func shout(_ contender: Contender, _ what: String, stderr path: String) {
        Console.error(
            """
            !!! FAILED: \(contender.label) \(what)
            !!! command: \(contender.commandLine)
            !!! last lines of its stderr:
            \(Logs.tail(of: path))
            """)
    }

    // MARK: - Printing

    private static func printHeader(
        options: BenchOptions, source: String, contenders: [Contender], jobs: Int, scratch: Scratch
    ) {
        print("# ksqsh-bench\n")
        print("source:   \(source)\(options.quick ? "  (--quick: \(BenchOptions.quickSubtree) only)" : "")")
        let runs = options.runs == 1 ? "1 run" : "\(options.runs) runs, medians"
        print("settings: xz, 1 MiB blocks, \(jobs) jobs (all cores), \(runs)")
        var seen = Set<String>()
        for contender in contenders where seen.insert(contender.program).inserted {
            guard let path = contender.executable else { continue }
            let version = probeVersion(of: path, scratch: scratch).map { "  (\($0))" } ?? ""
            print("tool:     \(path)\(version)")
        }
        printLoad()
    }

    private static func printLoad() {
        if let load = loadAverage() {
            let warning = load > 0.5 ? "  — the machine is busy; wall times will be noisy" : ""
            print("load:     \(String(format: "%.2f", load)) (1-minute average before start)\(warning)")
        }
    }

    /// First line of `--version`/`-version`; nil when the tool has neither.
    private static func probeVersion(of path: String, scratch: Scratch) -> String? {
        let flag = path.hasSuffix("/mksquashfs") ? "-version" : "--version"
        let probe = ChildProcess(
            executable: path, arguments: [flag],
            stdoutPath: "\(scratch.path)/version.stdout", stderrPath: "\(scratch.path)/version.stderr")
        guard let result = try? probe.run(), result.termination.succeeded else { return nil }
        return Logs.firstLine(of: probe.stdoutPath)
    }

    private static func loadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }

    static func summary(_ m: Measurement) -> String {
        String(
            format: "%.1f s wall, %.1f s CPU, %.0f MB peak RSS, %.2f MB image",
            m.wallSeconds, m.cpuSeconds, m.peakRSSBytes / 1e6, m.imageBytes / 1e6)
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
