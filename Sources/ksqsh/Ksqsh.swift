import ArgumentParser
import Glibc
import ImageEngine
import Mounting
import SystemPackage
import SystemSupport

@main
struct Ksqsh: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ksqsh",
        abstract: "Keep kernel sources as one compressed squashfs image.",
        version: "0.1.0",
        subcommands: [SquashCommand.self, VerifyCommand.self, MountCommand.self, UmountCommand.self, PrepareCommand.self, CleanCommand.self, StatusCommand.self, AdoptCommand.self, SlimCommand.self, InstallkernelCommand.self, HookCommand.self, HooksCommand.self]
    )

    /// As swift-argument-parser's own `main()`, except that a usage error is
    /// one line on stderr (status 64), like every other ksqsh error: scripts
    /// and build logs get the cause, `--help` gives the usage.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let status = exitCode(for: error)
            let text = message(for: error)
            // Help, --version, and failures already reported (ExitCode) go the usual way.
            guard status.rawValue == ExitCode.validationFailure.rawValue, !(error is ExitCode), !text.isEmpty else {
                exit(withError: error)
            }
            writeToStandardErrorLine("ksqsh: \(DisplayedText.oneLine(joiningValueList(text))) (see --help)")
            Glibc.exit(status.rawValue)
        }
    }

    /// ArgumentParser lists more than five allowed values (a bad --compression
    /// or phase) as "  - value" lines under the message; one line names
    /// them in a row instead: "...one of the following: xz, zstd, lz4."
    static func joiningValueList(_ message: String) -> String {
        let lines = message.split(separator: "\n")
        let values = lines.dropFirst().compactMap { line -> Substring? in
            let item = line.drop { $0 == " " }
            return item.hasPrefix("- ") ? item.dropFirst(2) : nil
        }
        guard let first = lines.first, !values.isEmpty, values.count == lines.count - 1 else { return message }
        return "\(first) \(values.joined(separator: ", "))."
    }
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

/// Refuses a `--root` that is not an existing directory: acting under it
/// would create a whole new tree (hooks install) or report an empty system.
///
/// A root whose name is not UTF-8 is refused too: the lifecycle commands,
/// portage and the kernel's make all handle paths as text.
func requireRootDirectory(_ root: String) throws {
    let path = CommandLinePath.filePath(root)
    guard isExistingDirectory(path) else {
        throw ValidationError("--root \(path.displayed) is not an existing directory")
    }
    guard FilePath(path.string) == path else {
        throw ValidationError("--root \(path.displayed) is not valid UTF-8; use a root whose path is")
    }
}

func formatMegabytes(_ bytes: UInt64) -> String {
    String(cFormat: "%.1f MB", Double(bytes) / 1_000_000)
}
