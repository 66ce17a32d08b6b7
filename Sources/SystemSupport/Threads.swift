import CSystemShim
import Glibc
import Synchronization
import SystemPackage

// ksqsh links no Foundation (the binary must run without the Swift
// toolchain's shared libraries, and Foundation would bring ICU's 30 MB), so
// the little threading it needs is written here on pthreads.

/// A mutex with a condition variable, for threads that wait for each other's
/// progress. The corresponding C types are `pthread_mutex_t` and `pthread_cond_t`.
package final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    package init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    package func lock() { pthread_mutex_lock(mutex) }
    package func unlock() { pthread_mutex_unlock(mutex) }

    /// Releases the lock until another thread broadcasts, then takes it again.
    /// Callers hold the lock and re-check their condition in a loop.
    package func wait() { pthread_cond_wait(condition, mutex) }

    package func broadcast() { pthread_cond_broadcast(condition) }

    package func withLock<Result>(_ body: () throws -> Result) rethrows -> Result {
        lock()
        defer { unlock() }
        return try body()
    }
}

/// A thread running one closure. The corresponding C function is `pthread_create`.
package struct WorkerThread {
    private let thread: pthread_t

    /// Starts `body` on a new thread named `name` (shown by `top -H` and in
    /// core dumps; at most 15 bytes).
    package init(name: String, stackSize: Int = 1 << 20, _ body: @escaping @Sendable () -> Void) throws {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        let context = Unmanaged.passRetained(Box(name: name, body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            ksqsh_name_this_thread(box.name)
            box.body()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<Box>.fromOpaque(context).release()
            throw KsqshError(.internalError, "cannot start a \(name) thread", errno: Errno(rawValue: status))
        }
        self.thread = thread
    }

    /// Waits for the thread's closure to return.
    package func join() { pthread_join(thread, nil) }

    private final class Box {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, _ body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }
}

/// Calls `body` once for every index in `0..<iterations`, on up to `threads`
/// threads named `name` (the calling thread is one of them), and returns when
/// all calls have returned. Threads take the next index as they finish, so
/// uneven work balances out. A thread that cannot be started only means
/// fewer threads: the calling thread alone still does all the work.
package func concurrentPerform(iterations: Int, threads: Int, name: String, _ body: (Int) -> Void) {
    let next = Mutex(0)
    withoutActuallyEscaping(body) { body in
        // Safe: every thread that runs `body` is joined before this returns.
        nonisolated(unsafe) let body = body
        let drain: @Sendable () -> Void = {
            while true {
                let index = next.withLock { taken in
                    defer { taken += 1 }
                    return taken
                }
                guard index < iterations else { return }
                body(index)
            }
        }
        var helpers: [WorkerThread] = []
        for _ in 1..<max(1, min(threads, iterations)) {
            guard let helper = try? WorkerThread(name: name, drain) else { break }
            helpers.append(helper)
        }
        drain()
        helpers.forEach { $0.join() }
    }
}
