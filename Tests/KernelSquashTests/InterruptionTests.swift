import Glibc
import Testing

/// Killed mid-squash, ksqsh leaves nothing behind: no IMAGE, no temp file in
/// IMAGE's directory (or TMPDIR), SRC untouched. With SIGKILL nothing can run
/// after the signal, so this holds only if the image is never visible under
/// any name before it is complete (e.g. O_TMPFILE + linkat).
@Suite("Interrupted squash", .serialized, .hangGuard)
struct InterruptionTests {
    /// ~50 MB of incompressible files: xz needs many seconds for it.
    static func buildLargeSource(_ root: ByteString) throws {
        try FS.mkdir(root)
        for index in 0..<25 {
            try FS.writeFile(root / ByteString("blob-\(index).bin"), Content.random(2 << 20, seed: 5000 + UInt64(index)))
        }
        try FS.mkdir(root / "sub")
        try FS.writeFile(root / "sub/small.txt", Content.text(10_000, seed: 1))
    }

    @Test("A signal 0.3 s into a squash (KILL, TERM, INT) leaves no IMAGE, no temp files, and SRC untouched", arguments: [SIGKILL, SIGTERM, SIGINT])
    func killedMidSquash(_ signal: Int32) throws {
        let work = try Workspace("kill-\(signal)")
        defer { work.remove() }
        try Self.buildLargeSource(work.source)
        let before = try Manifest.scan(work.source)
        let temporary = work["tmpdir"]
        try FS.mkdir(temporary)

        let child = try ChildProcess(
            try Ksqsh.binary(), ["squash", work.source, work.image, "--quiet"],
            environment: ["TMPDIR": temporary.string]
        )
        let result = child.wait(timeout: .seconds(60), signal: (after: .milliseconds(300), number: signal))
        #expect(!result.timedOut, "ksqsh did not stop within 60 s of signal \(signal): \(result)")
        #expect(!result.succeeded, "ksqsh finished 50 MB of xz in under 0.3 s? \(result)")
        if signal == SIGKILL {
            #expect(result.termination == .signaled(SIGKILL), "\(result)")
        } else {
            // Handled or not, it must not claim success; ksqsh may exit with a
            // status or die by the signal.
            #expect(result.termination != .exited(0), "\(result)")
            #expect(result.duration < .seconds(10), "ksqsh should stop promptly on signal \(signal): \(result)")
        }
        #expect(!FS.exists(work.image), "no IMAGE after signal \(signal)")
        let beside = try FS.list(work.imageDirectory)
        #expect(beside.isEmpty, "IMAGE's directory must be empty (ls -A): \(beside)")
        let temporaryFiles = try FS.list(temporary)
        #expect(temporaryFiles.isEmpty, "TMPDIR must be empty: \(temporaryFiles)")
        expectUnchanged(work.source, before: before)
    }
}
