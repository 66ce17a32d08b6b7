import Foundation
import Glibc

/// An image loop-mounted read-only for the cold reads, the way `ksqsh mount`
/// and the kernel's own users see it. mount(8) sets the loop device up (with
/// autoclear, so unmounting frees it); unmounting is a plain umount2(2) so it
/// still works after Ctrl-C, when the bench starts no more children.
final class ReadOnlyMount {
    let image: String
    let target: String
    private var mounted = false

    /// Mounts `image` on `target` (created if missing); mount(8)'s output goes to `logDirectory`.
    init(image: String, at target: String, logDirectory: String) throws {
        self.image = image
        self.target = target
        guard let mountTool = Executables.find("mount") else {
            throw BenchError("mount is not on PATH; cannot loop-mount \(image) for the cold reads")
        }
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        let name = URL(fileURLWithPath: target).lastPathComponent
        let child = ChildProcess(
            executable: mountTool, arguments: ["-t", "squashfs", "-o", "loop,ro,nodev,nosuid", image, target],
            stdoutPath: "\(logDirectory)/\(name).mount.stdout", stderrPath: "\(logDirectory)/\(name).mount.stderr")
        let result = try child.run()
        guard result.termination.succeeded else {
            throw BenchError(
                "mount -o loop,ro \(image) \(target) ended with \(result.termination):\n\(Logs.tail(of: child.stderrPath))")
        }
        mounted = true
    }

    /// Unmounts once; safe to call again. A target still busy after a few
    /// tries (a make child that outlived an interrupted run) is detached
    /// lazily, so the bench never leaves a mount behind.
    func unmount() {
        guard mounted else { return }
        for _ in 0..<10 {
            if umount2(target, 0) == 0 || errno == EINVAL || errno == ENOENT {
                mounted = false
                rmdir(target)
                return
            }
            guard errno == EBUSY else { break }
            usleep(200_000)
        }
        if umount2(target, Int32(MNT_DETACH)) != 0 {
            Console.error("ksqsh-bench: warning: cannot unmount \(target): \(String(cString: strerror(errno))); run `umount -l \(target)`\n")
            return
        }
        mounted = false
        rmdir(target)
    }

    deinit { unmount() }

    /// Bytes read so far from the loop device under the mount: with the
    /// caches dropped, every block the kernel decompresses is read from it
    /// once, so this counts the decompression work independently of how busy
    /// the machine is. nil when the device cannot be found.
    var bytesReadFromImage: UInt64? {
        guard let device = loopDevice,
              let stat = try? String(contentsOfFile: "/sys/block/\(device)/stat", encoding: .utf8)
        else { return nil }
        // Field 3 of the block layer's stat file: sectors read, 512 bytes each.
        let fields = stat.split(separator: " ")
        guard fields.count > 2, let sectors = UInt64(fields[2]) else { return nil }
        return sectors * 512
    }

    /// "loopN" for the mount at `target`, from the source field of
    /// /proc/self/mountinfo (after the " - " separator: fstype, source).
    private var loopDevice: String? {
        guard let table = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 4, fields[4] == target, let dash = fields.firstIndex(of: "-"), dash + 2 < fields.count
            else { continue }
            let source = fields[dash + 2]
            guard source.hasPrefix("/dev/loop") else { return nil }
            return String(source.dropFirst("/dev/".count))
        }
        return nil
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
