import SystemPackage
import SystemSupport
import Testing

/// SystemSupport's child processes (not the tests' own `ChildProcess`).
@Suite("Child processes")
struct ChildProcessTests {
    @Test("workingDirectory: the child starts there (merge_config.sh writes its files in its working directory); ours stays")
    func runsInWorkingDirectory() throws {
        let directory = try TemporaryDirectory("child-cwd")
        defer { directory.remove() }
        let before = FS.realPath(".")
        let child = SystemSupport.ChildProcess(
            executable: "/bin/sh", arguments: ["-c", "pwd -P > here"], workingDirectory: FilePath(directory.path.string))
        #expect(try child.run() == 0)
        let written = String(decoding: try FS.readFile(directory["here"]), as: UTF8.self)
        #expect(written == (FS.realPath(directory.path) ?? directory.path).string + "\n")
        #expect(FS.realPath(".") == before, "the test process's own working directory is unchanged")
    }

    @Test("a working directory that does not exist fails the start, naming the program")
    func missingWorkingDirectory() throws {
        let child = SystemSupport.ChildProcess(executable: "/bin/true", arguments: [], workingDirectory: "/nonexistent/ksqsh-test")
        let error = try #require(throws: KsqshError.self) { try child.run() }
        #expect(error.description.contains("/bin/true"), "\(error)")
    }
}
