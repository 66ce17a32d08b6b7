import Foundation
import Glibc
import Mounting
import SystemPackage
import SystemSupport

/// An image loop-mounted read-only for the cold reads, exactly as `ksqsh
/// mount` mounts it: through Mounting's LoopMount (libmount, the same
/// options, the loop device freed on unmount). Neither mounting nor
/// unmounting starts a child, so unmounting still works after Ctrl-C, when
/// the bench starts no more.
final class ReadOnlyMount {
    let image: String
    let target: String
    private var mounted = false

    /// Mounts `image` on `target` (created if missing).
    init(image: String, at target: String) throws {
        self.image = image
        self.target = target
        do {
            try LoopMount.mount(image: FilePath(image), at: FilePath(target))
        } catch let error as KsqshError {
            throw BenchError("cannot loop-mount \(image) on \(target) for the cold reads: \(error)")
        }
        mounted = true
    }

    /// Unmounts once; safe to call again. A target still busy after a few
    /// tries (a make child that outlived an interrupted run) is detached
    /// lazily, so the bench never leaves a mount behind.
    func unmount() {
        guard mounted else { return }
        for _ in 0..<10 {
            do {
                try LoopMount.unmount(FilePath(target))
                return unmounted()
            } catch let error as KsqshError where error.kind == .mountBusy {
                usleep(200_000)
            } catch {
                break
            }
        }
        do {
            try LoopMount.unmount(FilePath(target), lazy: true)
            unmounted()
        } catch {
            Console.error("ksqsh-bench: warning: cannot unmount \(target): \(error); run `umount -l \(target)`")
        }
    }

    private func unmounted() {
        mounted = false
        rmdir(target)
    }

    deinit { unmount() }

    /// Bytes read so far from the loop device under the mount: with the
    /// caches dropped, every block the kernel decompresses is read from it
    /// once, so this counts the decompression work independently of how busy
    /// the machine is. nil when the device cannot be found.
    var bytesReadFromImage: UInt64? {
        guard let entry = try? MountTable.current().mount(at: FilePath(target)), entry.loopBackingFile != nil,
              let stat = try? String(
                contentsOfFile: "/sys/dev/block/\(entry.device.major):\(entry.device.minor)/stat", encoding: .utf8)
        else { return nil }
        // Field 3 of the block layer's stat file: sectors read, 512 bytes each.
        let fields = stat.split(separator: " ")
        guard fields.count > 2, let sectors = UInt64(fields[2]) else { return nil }
        return sectors * 512
    }
}

extension PageCache {
    /// Writes back dirty pages, then drops the page cache, dentries and
    /// inodes (`sync; echo 3 > /proc/sys/vm/drop_caches`), so the next step
    /// reads everything from disk and decompresses every block it touches.
    static func drop() throws {
        sync()
        let path = "/proc/sys/vm/drop_caches"
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BenchError("cannot open \(path): \(String(cString: strerror(errno))) (needs root)") }
        defer { close(fd) }
        guard write(fd, "3\n", 2) == 2 else {
            throw BenchError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
