import ArgumentParser
import Glibc
import KernelSquash

@main
struct Ksqsh: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ksqsh",
        abstract: "Keep kernel sources as one compressed squashfs image.",
        version: "0.1.0",
        subcommands: [SquashCommand.self, VerifyCommand.self, MountCommand.self, UmountCommand.self, PrepareCommand.self, CleanCommand.self, StatusCommand.self, AdoptCommand.self, HookCommand.self, HooksCommand.self]
    )
}

/// Runs a library operation; a KsqshError becomes one line on stderr and the
/// exit status documented for its kind.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as KsqshError {
        writeToStandardErrorLine("ksqsh: \(error.description)")
        throw ExitCode(error.exitStatus)
    }
}

func formatMegabytes(_ bytes: UInt64) -> String {
    String(format: "%.1f MB", Double(bytes) / 1_000_000)
}
