import Foundation
import Portage
import SystemPackage
import Testing

/// The env hook stays hand-written bash (portage saves it with every package,
/// and a reader should be able to open it), yet two of its rules are also
/// stated in Swift: which phases die, and which variables reach the helper.
/// These tests run the generated hook against a stand-in helper and hold it
/// to what the Swift says; a change to either side alone fails them.
@Suite("The env hook does what the helper's Swift says")
struct HookContractTests {
    @Test("The hook defines a function for every Phase and for nothing else, but its own _ksqsh_ helpers")
    func hookDefinesExactlyThePhases() throws {
        let result = try runHook(#"source "$1"; compgen -A function"#)
        #expect(result.succeeded, "\(result)")
        let phases = result.stdoutText.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("_ksqsh_") }
        #expect(phases.sorted() == Phase.allCases.map(\.rawValue).sorted())
    }

    @Test("When 'ksqsh hook' fails, the hook dies exactly in the phases whose failure stops portage, and reports in the others", arguments: Phase.allCases)
    func failureDiesOrWarnsAsThePhaseSays(phase: Phase) throws {
        let result = try runPhase(phase)
        let died = result.stdoutText.contains("die: ")
        #expect(died == phase.failureStopsPortage, "\(phase.rawValue): failureStopsPortage is \(phase.failureStopsPortage), the hook \(died ? "dies" : "does not die"):\n\(result)")
        if !phase.failureStopsPortage {
            #expect(result.succeeded && result.stdoutText.contains("eerror: ksqsh "), "\(phase.rawValue) must report the failure and go on:\n\(result)")
        }
    }

    @Test("The hook hands the helper exactly PortageEnvironment.forwardedVariables, each with its own value", arguments: Phase.allCases)
    func hookForwardsTheVariablesTheHelperReads(phase: Phase) throws {
        let result = try runPhase(phase)
        var seen: [String: String] = [:]
        for line in result.stdoutText.split(separator: "\n") where line.hasPrefix(Self.helperSaw) {
            let assignment = line.dropFirst(Self.helperSaw.count)
            guard let equals = assignment.firstIndex(of: "=") else { continue }
            seen[String(assignment[..<equals])] = String(assignment[assignment.index(after: equals)...])
        }
        // What any shell exports on its own, forwarded or not.
        for name in ["PATH", "PWD", "OLDPWD", "SHLVL", "_"] { seen[name] = nil }
        let expected = PortageEnvironment.forwardedVariables
        #expect(seen.keys.sorted() == expected.sorted(), "the helper is handed other variables than it reads:\n\(result)")
        let mixedUp = expected.filter { seen[$0] != nil && seen[$0] != Self.value(of: $0) }
        #expect(mixedUp.isEmpty, "these reach the helper without their own value: \(mixedUp)")
    }

    // MARK: - Running the hook

    private static let helperSaw = "helper saw: "

    /// A value no two variables share, with a space that only quoting keeps.
    private static func value(of name: String) -> String { "value of \(name)" }

    /// Runs `phase`'s function with portage's output functions stubbed (die
    /// prints and exits 1) and every forwarded variable set, unexported, in
    /// an otherwise empty environment: only what the hook passes on reaches
    /// the helper.
    private func runPhase(_ phase: Phase) throws -> ProcessResult {
        let script = """
            ebegin() { :; }; eend() { :; }; einfo() { :; }
            ewarn() { printf 'ewarn: %s\\n' "$*"; }
            eerror() { printf 'eerror: %s\\n' "$*"; }
            die() { printf 'die: %s\\n' "$*"; exit 1; }
            hook=$1 phase=$2
            shift 2
            for assignment in "$@"; do declare "${assignment}"; done
            source "${hook}"
            "${phase}"
            """
        let assignments = PortageEnvironment.forwardedVariables.map { ByteString("\($0)=\(Self.value(of: $0))") }
        return try runHook(script, [ByteString(phase.rawValue)] + assignments)
    }

    /// Runs a bash script with the generated env hook's path as $1, under
    /// `env -i`. The hook calls a stand-in helper that starts, prints the
    /// environment it was given and fails.
    private func runHook(_ script: String, _ arguments: [ByteString] = []) throws -> ProcessResult {
        let scratch = try TemporaryDirectory("hook-contract")
        defer { scratch.remove() }
        let helper = scratch["ksqsh"]
        try FS.writeFile(helper, Array("""
            #!/bin/sh
            [ "$1" = --version ] && exit 0
            env | sed 's/^/\(Self.helperSaw)/'
            exit 1

            """.utf8), mode: 0o755)
        let hook = scratch["gentoo-sources"]
        try FS.writeFile(hook, Array(try HookTemplate.portageEnvHook.render(package: "gentoo-sources", helper: FilePath(helper.description)).utf8))
        let path = ProcessEnvironment.value("PATH") ?? "/usr/bin:/bin"
        return try Subprocess.run("env", ["-i", ByteString("PATH=\(path)"), "bash", "-c", ByteString(script), "hook-contract", hook] + arguments)
    }
}
