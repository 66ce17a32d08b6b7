import Glibc

/// How a child ended, decoded from the wait status (the WIFEXITED family are
/// function-like macros, which Swift does not import).
enum Termination: Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }

    var succeeded: Bool { self == .exited(0) }

    var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signaled(let signal): "signal \(signal) (\(String(cString: strsignal(signal))))"
        }
    }
}

/// What one finished child cost, as the kernel accounted it in wait4.
struct ChildUsage {
    var wallSeconds: Double
    /// ru_utime + ru_stime: every core's work, so it exceeds wall when parallel.
    var cpuSeconds: Double
    /// ru_maxrss: the largest resident set the child (or a child it waited for) reached.
    var peakRSSKiB: Int
    var termination: Termination
}

/// One command, run without a shell: explicit argv, stdin from /dev/null (CI
/// has none), stdout and stderr into files so output volume never matters.
///
/// Not SystemSupport's ChildProcess, which runs a helper with our output and
/// returns its status: measuring needs the child's own rusage (wait4),
/// both streams in files, a process group of its own for make, and stop
/// signals passed on while waiting.
struct ChildProcess {
    let executable: String
    let arguments: [String]
    let stdoutPath: String
    let stderrPath: String
    /// "NAME=value" entries; nil passes the bench's own environment on.
    var environment: [String]? = nil
    /// Starts the child in a process group of its own and passes stop
    /// signals to the whole group. For make: a recursive make that only its
    /// top process was told to stop waits for sub-makes that were not.
    var ownProcessGroup = false

    /// Runs to completion and measures it. The clock brackets spawn and reap
    /// only, so the bench's own bookkeeping is not charged to the tool.
    func run() throws -> ChildUsage {
        try Interruption.check()  // asked to stop: start nothing new
        let clock = ContinuousClock()  // monotonic: immune to NTP steps
        let start = clock.now
        let pid = try spawn()
        let (status, usage) = try reap(pid)
        let wall = clock.now - start
        return ChildUsage(
            wallSeconds: wall.seconds,
            cpuSeconds: seconds(usage.ru_utime) + seconds(usage.ru_stime),
            peakRSSKiB: usage.ru_maxrss,
            termination: Termination(waitStatus: status))
    }

    private func spawn() throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        // A bench started from a script in the background inherits SIGINT as
        // ignored; reset the stop signals so the child can always be stopped.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in Interruption.signals { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var flags = Int32(POSIX_SPAWN_SETSIGDEF)
        if ownProcessGroup {
            flags |= Int32(POSIX_SPAWN_SETPGROUP)
            posix_spawnattr_setpgroup(&attributes, 0)
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        let envp: [UnsafeMutablePointer<CChar>?]? = environment.map { $0.map { strdup($0) } + [nil] }
        defer { for entry in envp ?? [] { free(entry) } }
        var pid = pid_t()
        let rc = envp.map { posix_spawn(&pid, executable, &actions, &attributes, argv, $0) }
            ?? posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard rc == 0 else {
            throw BenchError("cannot start \(executable): \(String(cString: strerror(rc)))")
        }
        return pid
    }

    /// wait4 rather than waitpid: it hands back the child's own rusage, not a
    /// running total over every child the bench has reaped so far.
    private func reap(_ pid: pid_t) throws -> (Int32, rusage) {
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else {
                throw BenchError("wait4 for \(executable) failed: \(String(cString: strerror(errno)))")
            }
            // Ctrl-C reached a child in the bench's process group through the
            // terminal already; a SIGTERM aimed at the bench alone, or any
            // signal for a child in its own group, did not: pass it on and keep waiting.
            if let signal = Interruption.pending { kill(ownProcessGroup ? -pid : pid, signal) }
        }
        return (status, usage)
    }

    private func seconds(_ time: timeval) -> Double {
        Double(time.tv_sec) + Double(time.tv_usec) / 1e6
    }
}
