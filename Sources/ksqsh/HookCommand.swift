import ArgumentParser
import ImageEngine
import Portage
import SystemSupport

struct HookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hook",
        abstract: "Run ksqsh's part of a portage phase (called by the generated env hook).",
        discussion: """
            Reads portage's variables (\(PortageEnvironment.forwardedVariables.joined(separator: ", "))) \
            from the environment, and the hook settings from EPREFIX/etc/ksqsh.conf \
            (or the file KSQSH_CONFIG names), which those variables override. \
            Exit status 0 means the phase may go on.
            """
    )

    @Argument(help: "The ebuild phase the hook runs in.")
    var phase: Phase

    @Option(help: "The hook interface version the calling hook was generated for.")
    var interface: Int = HookRunner.interfaceVersion

    @Flag(help: "Only print the plan for this phase.")
    var pretend = false

    func run() throws {
        guard interface <= HookRunner.interfaceVersion else {
            // A newer hook than this helper understands: doing nothing is the
            // one thing that is safe in every phase (sources stay plain).
            writeToStandardErrorLine("ksqsh: warning: the hook speaks interface \(interface), this ksqsh only \(HookRunner.interfaceVersion): doing nothing. Update ksqsh.")
            return
        }
        try reportingErrors {
            let environment = try PortageEnvironment.forPhase(phase, variables: ProcessEnvironment.all)
            if pretend {
                for action in PhasePlan.actions(for: phase, in: environment) { print(action) }
                return
            }
            try HookRunner(phase: phase, environment: environment).run()
        }
    }
}
