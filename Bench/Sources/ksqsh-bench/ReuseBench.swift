import Foundation
import Glibc

/// `--reuse-only` (`make bench-reuse`): how long an upgrade's squash takes
/// when it reuses the previous version's image, against the same squash
/// from scratch and mksquashfs, side by side on the same new tree.
///
/// OLD is ksqsh's image of the kernel tree; NEW that tree after an upgrade's
/// edits (`UpgradeEdits`, fixed seed), or, for a major upgrade, OLD the
/// image of Debian's linux-source-6.1 and NEW linux-source-6.12. Both ksqsh
/// rows verify; the image made with --reuse must be byte-identical to the
/// one made without.
struct ReuseBench {
    let tree: String
    let tools: Toolset
    let jobs: Int
    let runs: Int
    let scratch: Scratch
    /// Which of "point", "scattered" and "major" to measure.
    let upgrades: Set<String>

    static let olderTreeName = "linux-source-6.1"
    static let olderTarball = "/usr/src/linux-source-6.1.tar.xz"

    private struct Scenario {
        let name: String
        let old: String
        let new: String
        let withMksquashfs: Bool
        /// The issue's target for reuse ÷ scratch wall time, if it sets one.
        let target: Double?
    }

    /// Runs every scenario; returns what failed.
    func run() throws -> [String] {
        print("# ksqsh-bench --reuse-only\n")
        print("tree:     \(tree)")
        print("settings: xz, 1 MiB blocks, \(jobs) jobs, \(runs == 1 ? "1 run" : "\(runs) runs, medians")")
        print("seed:     \(String(UpgradeEdits.seed, radix: 16)) (the same edits on every run)")
        guard let ksqsh = tools.ksqsh else { throw BenchError("ksqsh is not built: run `make build`") }

        let oldImage = "\(scratch.path)/old-6.12.sqfs"
        print("\nOLD: ksqsh squash \(tree) (not timed)")
        try squashUntimed(ksqsh, tree, oldImage)

        var scenarios: [Scenario] = []
        var rows: [[String]] = []
        for pattern in [UpgradeEdits.Pattern.pointRelease, .scattered] where upgrades.contains(pattern == .pointRelease ? "point" : "scattered") {
            let copy = "\(scratch.path)/new-\(pattern == .pointRelease ? "point" : "scattered")"
            let summary = try UpgradeEdits(pattern: pattern).make(from: tree, at: copy, logDirectory: scratch.path)
            print("NEW (\(pattern.rawValue)): \(summary)")
            scenarios.append(
                Scenario(name: pattern.rawValue, old: oldImage, new: copy, withMksquashfs: pattern == .pointRelease, target: pattern == .pointRelease ? 0.2 : nil))
        }
        if !upgrades.contains("major") {
            print("SKIP: the major upgrade (not in --upgrades)")
        } else if let older = try olderTree() {
            let olderImage = "\(scratch.path)/old-6.1.sqfs"
            print("OLD (major upgrade): ksqsh squash \(older) (not timed)")
            try squashUntimed(ksqsh, older, olderImage)
            scenarios.append(Scenario(name: "6.1 → 6.12", old: olderImage, new: tree, withMksquashfs: false, target: nil))
        } else {
            print("SKIP: the major upgrade (\(Self.olderTarball) is missing: apt-get install linux-source-6.1)")
        }

        var failures: [String] = []
        for scenario in scenarios {
            print("\n## \(scenario.name)\n")
            _ = try PageCache.warm(scenario.new)
            var contenders = [
                contender("ksqsh --verify", ksqsh, ["squash", scenario.new, "\(scratch.path)/scratch.sqfs", "--verify", "--force"], role: .ksqshVerify),
                contender(
                    "ksqsh --verify --reuse OLD", ksqsh,
                    ["squash", scenario.new, "\(scratch.path)/reused.sqfs", "--verify", "--force", "--reuse", scenario.old], role: .ksqsh),
            ]
            if scenario.withMksquashfs, let mksquashfs = tools.mksquashfs {
                contenders.append(
                    contender(
                        "mksquashfs", mksquashfs,
                        [scenario.new, "\(scratch.path)/mksquashfs.sqfs", "-comp", "xz", "-b", "1M", "-Xdict-size", "100%",
                         "-processors", "\(jobs)", "-noappend", "-quiet", "-no-progress"], role: .baseline))
            }
            var results = contenders.map { RowResult(contender: $0) }
            for run in 1...runs {
                for index in results.indices where results[index].runnable {
                    let row = results[index].contender
                    print("\(runs == 1 ? "" : "[run \(run)/\(runs)] ")\(row.label): \(row.commandLine)")
                    Console.flush()
                    if let measurement = try Bench.measureOnce(row, executable: row.executable!, scratch: scratch, keepImage: true) {
                        results[index].samples.append(measurement)
                        print("  " + Bench.summary(measurement))
                    } else {
                        results[index].status = .failed
                    }
                }
            }
            failures += results.filter(\.failed).map { "\(scenario.name): \($0.contender.label)" }
            guard let scratchRow = results[0].median, let reuseRow = results[1].median else { continue }

            let identical = FileManager.default.contentsEqual(atPath: "\(scratch.path)/scratch.sqfs", andPath: "\(scratch.path)/reused.sqfs")
            if !identical { failures.append("\(scenario.name): the image made with --reuse differs from the one without") }
            let reused = Self.reuseCount(in: "\(scratch.path)/reused.stdout") ?? "?"
            let ratio = reuseRow.wallSeconds / scratchRow.wallSeconds
            let verdict = scenario.target.map { ratio <= $0 ? "PASS (≤ \($0))" : "MISS (> \($0))" } ?? "no target"
            print("\nreuse ÷ scratch wall: \(String(format: "%.3f", ratio)) \(verdict); \(reused); images identical: \(identical ? "yes" : "NO")")
            for result in results {
                guard let m = result.median else { continue }
                rows.append([
                    scenario.name, result.contender.label, String(format: "%.1f", m.wallSeconds), String(format: "%.1f", m.cpuSeconds),
                    String(format: "%.0f", m.peakRSSBytes / 1e6), String(format: "%.2f", m.imageBytes / 1e6),
                    String(format: "%.3f", m.wallSeconds / scratchRow.wallSeconds),
                    result.contender.role == .ksqsh ? reused : "",
                ])
            }
        }
        print("\n" + MarkdownTable(header: ["upgrade", "tool", "wall s", "CPU s", "peak RSS MB", "image MB", "wall × scratch", "blocks reused"], rows: rows).text)
        return failures
    }

    private func contender(_ label: String, _ executable: String, _ arguments: [String], role: Contender.Role) -> Contender {
        let image = arguments.first { $0.hasSuffix(".sqfs") && $0.hasPrefix(scratch.path) }!
        return Contender(label: label, role: role, program: label, executable: executable, arguments: arguments, image: image)
    }

    private func squashUntimed(_ ksqsh: String, _ source: String, _ image: String) throws {
        let child = ChildProcess(
            executable: ksqsh, arguments: ["squash", source, image, "--quiet", "--force"],
            stdoutPath: "\(scratch.path)/old.stdout", stderrPath: "\(scratch.path)/old.stderr")
        guard try child.run().termination.succeeded else { throw BenchError("ksqsh squash \(source) failed:\n\(Logs.tail(of: child.stderrPath))") }
    }

    /// linux-source-6.1, unpacked into the kernel cache once, if its tarball is installed.
    private func olderTree() throws -> String? {
        let marker = "\(KernelCache.directory)/.unpacked-6.1"
        guard FileManager.default.fileExists(atPath: marker) || FileManager.default.fileExists(atPath: Self.olderTarball) else { return nil }
        return try KernelCache.unpacked(Self.olderTarball, treeName: Self.olderTreeName, marker: marker, logDirectory: scratch.path)
    }

    /// "reused N of M blocks (X MB)" from ksqsh's summary line.
    private static func reuseCount(in path: String) -> String? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), let start = text.range(of: "reused ") else { return nil }
        guard let end = text[start.upperBound...].range(of: " MB)") else { return nil }
        return String(text[start.upperBound..<end.upperBound])
    }
}
