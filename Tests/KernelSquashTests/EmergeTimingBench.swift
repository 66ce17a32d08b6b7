import Glibc
import Testing

/// `make bench-emerge`, a benchmark, not a test: skipped unless
/// KSQSH_BENCH_EMERGE=1 (the make target sets it). What a user waits for:
/// the whole `emerge` of the full linux-source-6.12 tree under real portage
/// with its sandbox (FEATURES=userpriv), with ksqsh's hooks and without any,
/// for a fresh install and for an upgrade with the previous version
/// installed (the tree after a point release's edits; with ksqsh its squash
/// reuses the installed image). Prints the table; it only requires every
/// emerge to succeed.
@Suite(
    "Emerge timing (make bench-emerge)",
    .serialized,
    .enabled(if: ProcessEnvironment.value("KSQSH_BENCH_EMERGE") == "1", "a benchmark: make bench-emerge"),
    .realPortageMachine
)
struct EmergeTimingBench {
    @Test("emerge of the full kernel tree: fresh install and upgrade, with ksqsh and without")
    func emergeTimes() async throws {
        let tree = KernelSkeleton.unpackedSource
        try #require(FS.exists(KernelSkeleton.unpackedMarker), "\(tree) is not unpacked: make kernel-tree")
        let scratch = try TemporaryDirectory("emerge-bench")
        defer { scratch.remove() }
        // src_unpack copies the upgrade's tree as the unprivileged user (userpriv).
        _ = chmod(scratch.path.string, 0o755)
        // The upgrade's tree: a copy after a point release's edits.
        let upgraded = scratch["linux-upgraded"]
        try copyTree(tree, to: upgraded)
        let changed = try TreeChange.pointRelease.apply(to: upgraded)

        var rows: [String] = []
        var seconds: [String: Double] = [:]
        for withKsqsh in [false, true] {
            let machine = try RealPortageMachine(
                withKsqsh ? "emerge-ksqsh" : "emerge-plain", .init(userpriv: true, temporarySize: "8g", kernelTree: tree))
            defer { machine.tearDown() }
            if withKsqsh { try machine.installHooks() }
            for (step, pvr, environment) in [("fresh install", "6.12.10", [ByteString]()), ("upgrade", "6.12.11", ["KSQSH_TEST_KERNEL_TREE=" + upgraded])] {
                sync()
                let run = try await machine.install(pvr, environment: environment, timeout: .seconds(1800)).requireSuccess()
                let wall = Double(run.result.duration.components.seconds) + Double(run.result.duration.components.attoseconds) / 1e18
                let key = "\(step) \(withKsqsh ? "ksqsh" : "plain")"
                seconds[key] = wall
                let squash = run.hookOutput("pre_src_install").first { $0.contains(".sqfs:") }.map { " — " + $0.drop { $0 == " " } } ?? ""
                print("\(key): \("\(Self.tenths(wall))") s\(squash)")
                rows.append("| \(step) | \(withKsqsh ? "ksqsh hooks" : "no hook") | \("\(Self.tenths(wall))") |")
            }
            try await machine.unmerge("6.12.10").requireSuccess()
            try await machine.unmerge("6.12.11").requireSuccess()
        }
        print("\nupgrade tree: \(changed) files changed (TreeChange.pointRelease)\n")
        print("| emerge | hooks | wall s |\n| --- | --- | ---: |\n" + rows.joined(separator: "\n"))
        for step in ["fresh install", "upgrade"] {
            if let ksqsh = seconds["\(step) ksqsh"], let plain = seconds["\(step) plain"] {
                print("\(step): ksqsh ÷ plain = \((ksqsh / plain * 100).rounded() / 100)")
            }
        }
    }

    private static func tenths(_ value: Double) -> Double { (value * 10).rounded() / 10 }
}
