import Testing

/// One emerge run: its exit status and output (the build log and the
/// hooks' e* lines are on stdout and stderr; searched together).
struct PortageRun: CustomStringConvertible {
    let result: ProcessResult

    init(_ result: ProcessResult) { self.result = result }

    var succeeded: Bool { result.succeeded }
    var exitCode: Int32? { result.exitCode }
    var output: String { result.stdoutText + "\n" + result.stderrText }

    func contains(_ text: String) -> Bool { output.contains(text) }

    /// The hook phases ksqsh ran, in order, from the hook's `ebegin "ksqsh PHASE"`
    /// lines (on stdout, with the build log).
    var hookPhases: [String] {
        result.stdoutText.split(separator: "\n").compactMap { line -> String? in
            guard let start = line.range(of: "ksqsh "), line.hasSuffix(" ...") else { return nil }
            let phase = line[start.upperBound...].dropLast(" ...".count)
            return phase.contains(" ") ? nil : String(phase)
        }
    }

    /// What ksqsh printed in one hook phase: the lines between its
    /// `ebegin "ksqsh PHASE"` line and the `eend` after it.
    func hookOutput(_ phase: String) -> [Substring] {
        let lines = result.stdoutText.split(separator: "\n")
        guard let start = lines.firstIndex(where: { $0.hasSuffix("ksqsh \(phase) ...") }) else { return [] }
        let rest = lines[(start + 1)...]
        return Array(rest.prefix { !$0.contains("[ ok ]") && !$0.contains("[ !! ]") })
    }

    @discardableResult
    func requireSuccess(sourceLocation: SourceLocation = #_sourceLocation) throws -> PortageRun {
        try #require(succeeded, "\(self)", sourceLocation: sourceLocation)
        return self
    }

    var description: String {
        let how = result.exitCode.map { "exit status \($0)" } ?? "killed"
        let emerge = result.command.lastIndex { $0.string.hasSuffix("/emerge") } ?? 0
        return "`emerge \(result.command[(emerge + 1)...].map(\.description).joined(separator: " "))` → \(how) after \(result.duration)\n"
            + "--- stdout ---\n\(String(result.stdoutText.suffix(6000)))\n--- stderr ---\n\(String(result.stderrText.suffix(5000)))"
    }
}
