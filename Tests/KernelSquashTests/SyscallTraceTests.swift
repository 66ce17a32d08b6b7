import Testing

/// The strace reader under the crash checks: what it must get right for
/// the crash model to follow a run (a missed call is a state never checked).
@Suite("strace reader: merged halves, padded pids, hex strings, working directories")
struct SyscallTraceTests {
    private func trace(_ lines: [String]) -> SyscallTrace { SyscallTrace(Array((lines.joined(separator: "\n") + "\n").utf8)) }

    @Test("a call split by another process's line is merged and counted where it began; a sync where it returned")
    func unfinishedAndResumed() {
        let calls = trace([
            #"904   symlinkat("/s/linux", AT_FDCWD</s/build>, "CuX" <unfinished ...>"#,
            #"905   fsync(3</s/build/.config> <unfinished ...>"#,
            #"906   unlinkat(AT_FDCWD</s/build>, "old", 0) = 0"#,
            #"904   <... symlinkat resumed>)             = 0"#,
            #"904   renameat(AT_FDCWD</s/build>, "CuX", AT_FDCWD</s/build>, "source" <unfinished ...>"#,
            #"905   <... fsync resumed>)      = 0"#,
            #"904   <... renameat resumed>) = 0"#,
        ]).calls
        #expect(calls.map(\.name) == ["symlinkat", "unlinkat", "renameat", "fsync"])
        #expect(calls[0].paths == ["/s/linux", "/s/build/CuX"])
        #expect(calls[2].paths == ["/s/build/CuX", "/s/build/source"])
        #expect(calls[3].paths == ["/s/build/.config"])
    }

    @Test("pids padded to five columns, hex strings and annotations (-xx), failed calls left out")
    func paddingHexAndFailures() {
        let calls = trace([
            #"77    mkdir("\x2f\x72\x2f\x65\x74\x63", 0755) = 0"#,
            #"77    mkdir("\x2f\x72", 0755) = -1 EEXIST (File exists)"#,
            #"77    openat(AT_FDCWD<\x2f\x72>, "\x61\x0a", O_WRONLY|O_CREAT|O_EXCL, 0644) = 3<\x2f\x72\x2f\x61\x5c\x6e>"#,
            #"77    write(3<\x2f\x72\x2f\x61>, "\x00\xff\x41", 3) = 3"#,
        ]).calls
        #expect(calls.map(\.name) == ["mkdir", "openat", "write"])
        #expect(calls[0].paths == ["/r/etc"])
        #expect(calls[1].paths == ["/r/a\n"] && calls[1].flags == ["O_WRONLY", "O_CREAT", "O_EXCL"])
        #expect(calls[2].arguments[1] == .string([0, 0xff, 0x41]))
    }

    @Test("a relative path is taken from the process's working directory: inherited through clone, moved by chdir; unknown, it is flagged")
    func workingDirectories() {
        let calls = trace([
            #"10    openat(AT_FDCWD</w>, "/lib/libc.so.6", O_RDONLY) = 3</lib/libc.so.6>"#,
            #"10    clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>"#,
            #"11    mkdir(".tmp_11", 0777) = 0"#,
            #"10    <... clone resumed>) = 11"#,
            #"11    chdir("sub") = 0"#,
            #"11    rename(".config", ".config.old") = 0"#,
            #"12    mkdir("orphan", 0777) = 0"#,
        ]).calls
        #expect(calls.map(\.name) == ["openat", "clone", "mkdir", "chdir", "rename", "mkdir"])
        #expect(calls[2].paths == ["/w/.tmp_11"])
        #expect(calls[4].paths == ["/w/sub/.config", "/w/sub/.config.old"])
        #expect(calls[5].paths.isEmpty && !calls[5].resolved)
    }
}
