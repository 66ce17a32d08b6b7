import Foundation

/// The issue's goals for building from a ksqsh image: close to the plain
/// tree, and at most half of what the same build from a mksquashfs image takes.
struct ColdReadTarget {
    let step: KernelStep
    let plainLimit: Double
    let mksquashfsLimit: Double

    static let all = [
        ColdReadTarget(step: .defconfig, plainLimit: 1.2, mksquashfsLimit: 0.5),
        ColdReadTarget(step: .modulesPrepare, plainLimit: 1.3, mksquashfsLimit: 0.5),
    ]

    var description: String {
        "≤ \(String(format: "%.1f", plainLimit)) × plain, ≤ \(String(format: "%.1f", mksquashfsLimit)) × mks"
    }
}

/// Step × source: seconds, ratios to the plain tree, ksqsh ÷ mksquashfs, and
/// whether the target is met.
struct ColdReadReport {
    let rows: [ColdReadRow]
    let runs: Int
    let jobs: Int

    var text: String {
        let header = [
            "step", "plain tree s", "mksquashfs s", "ksqsh s", "mks × plain", "ksqsh × plain", "ksqsh ÷ mks", "target", "met",
        ]
        let table = MarkdownTable(header: header, rows: ColdReadTarget.all.map(cells)).text
        let readHeader = ["step", "mksquashfs image MB read", "ksqsh image MB read", "ksqsh ÷ mks"]
        let reads = MarkdownTable(header: readHeader, rows: KernelStep.allCases.map(readCells)).text
        let summary = runs == 1 ? "one run" : "medians of \(runs) runs"
        return table + "\n\n" + reads + "\n\n\(summary); `make -C SRC O=BUILD -j\(jobs) STEP`, ARCH and KBUILD_OUTPUT unset, "
            + "fresh BUILD dir per source, `sync; echo 3 > /proc/sys/vm/drop_caches` before each step; "
            + "images loop-mounted read-only. MB read = from the image's loop device during the step "
            + "(compressed blocks the kernel had to fetch, and so decompress; unlike seconds, not skewed by a busy machine)."
    }

    private func readCells(_ step: KernelStep) -> [String] {
        let mks = rows.first { $0.source.role == .mksquashfs }?.medianImageBytes(step)
        let ksqsh = rows.first { $0.source.role == .ksqsh }?.medianImageBytes(step)
        func megabytes(_ value: Double?) -> String { value.map { String(format: "%.1f", $0 / 1e6) } ?? "n/a" }
        return [step.rawValue, megabytes(mks), megabytes(ksqsh), ratio(ksqsh, mks)]
    }

    /// Whether every target was measured and met.
    var allMet: Bool {
        ColdReadTarget.all.allSatisfy { verdict($0) == true }
    }

    private func cells(_ target: ColdReadTarget) -> [String] {
        let (plain, mks, ksqsh) = (seconds(.plainTree, target.step), seconds(.mksquashfs, target.step), seconds(.ksqsh, target.step))
        let met = verdict(target).map { $0 ? "yes" : "NO" } ?? "n/a"
        return [
            target.step.rawValue, format(plain), format(mks), format(ksqsh),
            ratio(mks, plain), ratio(ksqsh, plain), ratio(ksqsh, mks), target.description, met,
        ]
    }

    /// nil when a row failed or is missing.
    private func verdict(_ target: ColdReadTarget) -> Bool? {
        guard let plain = seconds(.plainTree, target.step), let mks = seconds(.mksquashfs, target.step),
              let ksqsh = seconds(.ksqsh, target.step), plain > 0, mks > 0
        else { return nil }
        return ksqsh / plain <= target.plainLimit && ksqsh / mks <= target.mksquashfsLimit
    }

    private func seconds(_ role: ColdSource.Role, _ step: KernelStep) -> Double? {
        rows.first { $0.source.role == role }?.median(step)
    }

    private func format(_ value: Double?) -> String {
        value.map { String(format: "%.2f", $0) } ?? "FAILED"
    }

    private func ratio(_ value: Double?, _ base: Double?) -> String {
        guard let value, let base, base > 0 else { return "n/a" }
        return String(format: "%.2f", value / base)
    }
}
