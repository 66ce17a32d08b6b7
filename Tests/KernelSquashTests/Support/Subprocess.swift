import Glibc

/// Serializes pipe creation and spawning (see `ChildProcess.init`).
private let spawnLock = SpawnLock()

private final class SpawnLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        return mutex
    }()

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
}

/// How a child process ended and what it printed.
struct ProcessResult: Sendable, CustomStringConvertible {
    enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)
    }

    let command: [ByteString]
    let termination: Termination
    let stdout: [UInt8]
    let stderr: [UInt8]
    /// The child outlived its time limit and was killed with SIGKILL.
    let timedOut: Bool
    let duration: Duration

    /// The exit status, or nil when a signal ended the process.
    var exitCode: Int32? {
        if case .exited(let code) = termination { return code }
        return nil
    }

    var succeeded: Bool { termination == .exited(0) }
    var stdoutText: String { String(decoding: stdout, as: UTF8.self) }
    var stderrText: String { String(decoding: stderr, as: UTF8.self) }

    /// stderr without its final newline, split into lines.
    var stderrLines: [Substring] {
        var text = Substring(stderrText)
        while text.last == "\n" { text = text.dropLast() }
        return text.isEmpty ? [] : text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    var description: String {
        let how: String
        switch termination {
        case .exited(let code): how = "exit status \(code)"
        case .signaled(let signal): how = "killed by signal \(signal)"
        }
        var text = "`\(command.map(\.description).joined(separator: " "))` → \(how)\(timedOut ? " (timed out)" : "")"
        text += " after \(duration)"
        if !stderr.isEmpty { text += "\n--- stderr ---\n" + String(stderrText.suffix(4000)) }
        if !stdout.isEmpty { text += "\n--- stdout ---\n" + String(stdoutText.suffix(2000)) }
        return text
    }
}

/// A running child started with `posix_spawn` and an explicit argv (never a
/// shell string). Its stdin is /dev/null; stdout and stderr are captured, up
/// to `captureLimit` bytes each.
final class ChildProcess {
    let pid: pid_t
    let command: [ByteString]
    private var outputFDs: [Int32]
    private var captured: [[UInt8]] = [[], []]
    private var reaped: ProcessResult.Termination?
    private let started = ContinuousClock.now
    private let captureLimit = 8 << 20

    /// Starts `executable` (searched in PATH when it has no "/").
    ///
    /// The environment is the test process's, minus SOURCE_DATE_EPOCH (so a
    /// value in the caller's shell cannot change the images), with LC_ALL=C,
    /// then `environment` applied on top (nil removes a variable).
    init(_ executable: ByteString, _ arguments: [ByteString], environment: [String: String?] = [:]) throws {
        command = [executable] + arguments

        var env = ProcessEnvironment.all()
        env["SOURCE_DATE_EPOCH"] = nil
        env["LC_ALL"] = "C"
        for (name, value) in environment { env[name] = value }

        // pipe2(O_CLOEXEC) is not imported without _GNU_SOURCE: make the pipes
        // and spawn under one lock, so a child spawned by a concurrently
        // running test cannot inherit these pipes' write ends.
        spawnLock.lock()
        defer { spawnLock.unlock() }
        var stdoutPipe: [Int32] = [0, 0]
        var stderrPipe: [Int32] = [0, 0]
        guard pipe(&stdoutPipe) == 0 else { throw TestSetupError.syscall("pipe", executable) }
        guard pipe(&stderrPipe) == 0 else {
            close(stdoutPipe[0]); close(stdoutPipe[1])
            throw TestSetupError.syscall("pipe", executable)
        }
        for fd in stdoutPipe + stderrPipe { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        let argv = command.map { arg -> UnsafeMutablePointer<CChar>? in Self.duplicate(arg.bytes) } + [nil]
        let envp = env.sorted { $0.key < $1.key }.map { Self.duplicate(Array("\($0.key)=\($0.value)".utf8)) } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }

        var child: pid_t = 0
        let status = executable.withCString { path in
            executable.bytes.contains(UInt8(ascii: "/"))
                ? posix_spawn(&child, path, &actions, &attributes, argv, envp)
                : posix_spawnp(&child, path, &actions, &attributes, argv, envp)
        }
        close(stdoutPipe[1])
        close(stderrPipe[1])
        guard status == 0 else {
            close(stdoutPipe[0]); close(stderrPipe[0])
            throw TestSetupError.syscall("posix_spawn", executable, errno: status)
        }
        pid = child
        outputFDs = [stdoutPipe[0], stderrPipe[0]]
    }

    deinit {
        if reaped == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        for fd in outputFDs where fd >= 0 { close(fd) }
    }

    private static func duplicate(_ bytes: [UInt8]) -> UnsafeMutablePointer<CChar> {
        let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count + 1)
        for (index, byte) in bytes.enumerated() { pointer[index] = CChar(bitPattern: byte) }
        pointer[bytes.count] = 0
        return UnsafeMutablePointer(mutating: pointer)
    }

    var isRunning: Bool {
        if reaped != nil { return false }
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        if rc == pid {
            reaped = Self.decode(status)
            return false
        }
        return true
    }

    /// Sends `signal` unless the child has already been reaped.
    func send(_ signal: Int32) {
        guard reaped == nil else { return }
        kill(pid, signal)
    }

    /// Waits for the child to end and both pipes to close. After `timeout`
    /// it is killed with SIGKILL and the result says `timedOut`.
    /// `signal`, if given, is sent once `after` has elapsed since spawning.
    func wait(timeout: Duration, signal: (after: Duration, number: Int32)? = nil) -> ProcessResult {
        let deadline = started + timeout
        var signalSent = false
        var timedOut = false
        var childEndedAt: ContinuousClock.Instant?
        while true {
            let now = ContinuousClock.now
            if let signal, !signalSent, now >= started + signal.after {
                send(signal.number)
                signalSent = true
            }
            if now >= deadline, !timedOut {
                send(SIGKILL)
                timedOut = true
            }
            if !isRunning, childEndedAt == nil { childEndedAt = now }
            guard outputFDs.contains(where: { $0 >= 0 }) else {
                if reaped != nil { break }
                Glibc.usleep(2_000)
                continue
            }
            _ = readAvailable(waitMilliseconds: 5)
            // A grandchild may still hold the pipes: stop listening 2 s after the child ended.
            if let childEndedAt, now - childEndedAt > .seconds(2) { closePipes() }
        }
        return ProcessResult(
            command: command, termination: reaped!, stdout: captured[0], stderr: captured[1],
            timedOut: timedOut, duration: ContinuousClock.now - started
        )
    }

    private func closePipes() {
        for index in outputFDs.indices where outputFDs[index] >= 0 {
            close(outputFDs[index])
            outputFDs[index] = -1
        }
    }

    /// Returns whether anything was read.
    private func readAvailable(waitMilliseconds: Int32) -> Bool {
        var polls = outputFDs.filter { $0 >= 0 }.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        guard !polls.isEmpty else { return false }
        let ready = poll(&polls, nfds_t(polls.count), waitMilliseconds)
        guard ready > 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        for entry in polls where entry.revents != 0 {
            let index = outputFDs.firstIndex(of: entry.fd)!
            let n = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress!, $0.count) }
            if n > 0 {
                if captured[index].count < captureLimit { captured[index] += buffer[0..<min(n, captureLimit - captured[index].count)] }
            } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                close(entry.fd)
                outputFDs[index] = -1
            }
        }
        return true
    }

    private static func decode(_ status: Int32) -> ProcessResult.Termination {
        let signal = status & 0x7f
        return signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}

enum Subprocess {
    /// Runs a command to completion and returns its exit status and output.
    @discardableResult
    static func run(
        _ executable: ByteString, _ arguments: [ByteString],
        environment: [String: String?] = [:], timeout: Duration = .seconds(120)
    ) throws -> ProcessResult {
        let child = try ChildProcess(executable, arguments, environment: environment)
        return child.wait(timeout: timeout)
    }

    /// Runs a command that must succeed; throws with its output otherwise.
    @discardableResult
    static func runChecked(
        _ executable: ByteString, _ arguments: [ByteString],
        environment: [String: String?] = [:], timeout: Duration = .seconds(120)
    ) throws -> ProcessResult {
        let result = try run(executable, arguments, environment: environment, timeout: timeout)
        guard result.succeeded else { throw TestSetupError("command failed: \(result)") }
        return result
    }

    /// Whether a program can be found in PATH.
    static func isInstalled(_ name: String) -> Bool {
        let path = ProcessEnvironment.value("PATH") ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { access("\($0)/\(name)", X_OK) == 0 }
    }
}

extension Subprocess {
    /// `run`, on a thread of its own. Swift Testing runs suites side by side
    /// on a pool of as many threads as cores (two here): a test that blocks
    /// one of them for minutes (a portage build) starves the other suites
    /// until their time limits expire. This wait holds no pool thread.
    static func runOffPool(
        _ executable: ByteString, _ arguments: [ByteString],
        environment: [String: String?] = [:], timeout: Duration
    ) async throws -> ProcessResult {
        try await withCheckedThrowingContinuation { continuation in
            let body = DetachedThread.Body {
                continuation.resume(with: Result { try run(executable, arguments, environment: environment, timeout: timeout) })
            }
            do {
                try DetachedThread.start(body)
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}

/// A plain pthread, outside Swift's cooperative pool.
enum DetachedThread {
    final class Body: @unchecked Sendable {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }

    static func start(_ body: Body) throws {
        let context = Unmanaged.passRetained(body).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, nil, { context in
            Unmanaged<Body>.fromOpaque(context!).takeRetainedValue().run()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<Body>.fromOpaque(context).release()
            throw TestSetupError.syscall("pthread_create", "(test thread)", errno: status)
        }
        pthread_detach(thread)
    }
}
