import Foundation

/// One successful run of one tool.
struct Measurement {
    var wallSeconds: Double
    var cpuSeconds: Double
    var peakRSSBytes: Double
    var imageBytes: Double
}

/// Everything the bench learned about one row.
struct RowResult {
    enum Status { case measured, failed, skipped }

    let contender: Contender
    var samples: [Measurement] = []
    var status: Status = .measured

    var failed: Bool { status == .failed }
    var runnable: Bool { status == .measured }

    /// Medians, so one run disturbed by a cron job or writeback does not
    /// decide the row; with --runs 1 it is simply that run.
    var median: Measurement? {
        guard runnable, !samples.isEmpty else { return nil }
        return Measurement(
            wallSeconds: samples.map(\.wallSeconds).median,
            cpuSeconds: samples.map(\.cpuSeconds).median,
            peakRSSBytes: samples.map(\.peakRSSBytes).median,
            imageBytes: samples.map(\.imageBytes).median)
    }
}

extension Array where Element == Double {
    /// The middle value (the mean of the two middle ones for an even count); 0 when empty.
    var median: Double {
        guard !isEmpty else { return 0 }
        let sorted = self.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}

/// A goal from the issue: a ksqsh row's metric as a multiple of another
/// row's, mksquashfs's unless `reference` says otherwise.
struct Target {
    let description: String
    let role: Contender.Role
    let metric: (Measurement) -> Double
    let limit: Double
    var reference: Contender.Role = .baseline

    /// Computed rather than stored: closures are not Sendable, and these are
    /// cheap to rebuild for the one time they are printed.
    static var issueTargets: [Target] {
        [
            Target(
                description: "ksqsh squash wall ≤ 0.92 × mksquashfs", role: .ksqsh, metric: \.wallSeconds, limit: 0.92),
            Target(
                description: "ksqsh image size ≤ 1.00 × mksquashfs", role: .ksqsh, metric: \.imageBytes, limit: 1.00),
            Target(
                description: "ksqsh peak RSS ≤ 0.30 × mksquashfs", role: .ksqsh, metric: \.peakRSSBytes, limit: 0.30),
            Target(
                description: "ksqsh squash --verify wall ≤ 1.00 × plain mksquashfs", role: .ksqshVerify,
                metric: \.wallSeconds, limit: 1.00),
            Target(
                description: "ksqsh squash TARBALL wall ≤ 1.05 × ksqsh squash of the unpacked tree", role: .ksqshTarball,
                metric: \.wallSeconds, limit: 1.05, reference: .ksqsh),
        ]
    }
}

/// The Markdown table and the PASS/MISS list.
struct Report {
    let rows: [RowResult]
    let runs: Int

    private var baseline: Measurement? { rows.first { $0.contender.role == .baseline }?.median }

    var text: String {
        [table, legend, "", targets].joined(separator: "\n")
    }

    private var table: String {
        let header = ["tool", "wall s", "CPU s", "peak RSS MB", "image MB", "wall × mks", "RSS × mks", "size × mks"]
        return MarkdownTable(header: header, rows: rows.map(cells)).text
    }

    private func cells(_ row: RowResult) -> [String] {
        let label = row.contender.label
        switch row.status {
        case .skipped: return [label, "skipped", "", "", "", "", "", ""]
        case .failed: return [label, "FAILED", "", "", "", "", "", ""]
        case .measured: break
        }
        guard let m = row.median else { return [label, "", "", "", "", "", "", ""] }
        return [
            label,
            format(m.wallSeconds, 1), format(m.cpuSeconds, 1),
            format(m.peakRSSBytes / 1e6, 0), format(m.imageBytes / 1e6, 2),
            ratio(m.wallSeconds, baseline?.wallSeconds),
            ratio(m.peakRSSBytes, baseline?.peakRSSBytes),
            // Three decimals: sizes differ by tenths of a percent, and a
            // rounded "1.00" next to a MISS of the ≤ 1.00 target would confuse.
            ratio(m.imageBytes, baseline?.imageBytes, decimals: 3),
        ]
    }

    private var legend: String {
        let summary = runs == 1 ? "one run" : "medians of \(runs) runs"
        return "\n\(summary); CPU = user + system of the tool and its children (wait4); "
            + "peak RSS = ru_maxrss; MB = 10^6 bytes; × mks = ratio to the mksquashfs row."
    }

    private var targets: String {
        var lines = ["Targets (issue), ksqsh against mksquashfs:"]
        for target in Target.issueTargets {
            let row = rows.first { $0.contender.role == target.role }
            let reference = rows.first { $0.contender.role == target.reference }?.median
            guard let value = row?.median.map(target.metric), let base = reference.map(target.metric), base > 0 else {
                lines.append("  n/a   \(target.description)  (row missing, skipped or failed)")
                continue
            }
            let ratio = value / base
            let verdict = ratio <= target.limit ? "PASS" : "MISS"
            lines.append("  \(verdict)  \(target.description)  (measured \(format(ratio, 3)) ×)")
        }
        return lines.joined(separator: "\n")
    }

    private func ratio(_ value: Double, _ base: Double?, decimals: Int = 2) -> String {
        guard let base, base > 0 else { return "n/a" }
        return format(value / base, decimals)
    }

    private func format(_ value: Double, _ decimals: Int) -> String {
        String(format: "%.\(decimals)f", value)
    }
}
