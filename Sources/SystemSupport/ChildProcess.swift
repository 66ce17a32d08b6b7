import CSystemShim
import Glibc
import SystemPackage

/// Runs a program with explicit arguments (never through a shell), its
/// output going where ours goes, and waits for it. The corresponding C
/// function is `posix_spawnp`.
package struct ChildProcess {
    package let executable: String
    package let arguments: [String]
    package var removedEnvironment: Set<String> = []
    /// Where the child's stdout goes; nil: inherit ours.
    package var standardOutput: FileDescriptor?
    /// Where the child starts; nil: our working directory. Set in the child
    /// alone, so ours never changes (other threads may be using it).
    package var workingDirectory: FilePath?

    package init(
        executable: String, arguments: [String], removedEnvironment: Set<String> = [], standardOutput: FileDescriptor? = nil,
        workingDirectory: FilePath? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.removedEnvironment = removedEnvironment
        self.standardOutput = standardOutput
        self.workingDirectory = workingDirectory
    }

    /// The exit status (128 + signal when killed by a signal).
    package func run() throws -> Int32 {
        var environment: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            let name = String(text.prefix(while: { $0 != "=" }))
            if !removedEnvironment.contains(name) { environment.append(text) }
            pointer += 1
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let standardOutput {
            posix_spawn_file_actions_adddup2(&actions, standardOutput.rawValue, STDOUT_FILENO)
        }
        if let workingDirectory {
            let added = workingDirectory.withPlatformString { ksqsh_spawn_add_chdir(&actions, $0) }
            guard added == 0 else {
                throw KsqshError(.internalError, path: workingDirectory, "cannot run \(executable) in this directory", errno: Errno(rawValue: added))
            }
        }

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let status = posix_spawnp(&pid, executable, &actions, nil, argv, envp)
        guard status == 0 else {
            throw KsqshError(.buildFailed, path: FilePath(executable), "cannot run \(executable); is it installed?", errno: Errno(rawValue: status))
        }
        var result: Int32 = 0
        while waitpid(pid, &result, 0) < 0 {
            guard errno == EINTR else { throw KsqshError(.internalError, "waiting for \(executable) failed", errno: .current) }
        }
        // WIFEXITED / WEXITSTATUS / WTERMSIG are macros.
        let signal = result & 0x7f
        return signal == 0 ? (result >> 8) & 0xff : 128 + signal
    }
}
