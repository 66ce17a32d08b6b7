import Glibc

/// Mounts for root-only tests, always undone: loop-mounted images, tiny or
/// read-only tmpfs for the "image directory" error cases.
enum Mounts {
    /// `mount ARGUMENTS... TARGET`, run `body`, then `umount TARGET` (lazily if
    /// busy) whatever happens.
    static func with<T>(_ arguments: [ByteString], at target: ByteString, _ body: () throws -> T) throws -> T {
        try Subprocess.runChecked("mount", arguments + [target], timeout: .seconds(60))
        defer { unmount(target) }
        return try body()
    }

    /// The image mounted read-only through a loop device at `target`.
    static func withImage<T>(_ image: ByteString, at target: ByteString, _ body: () throws -> T) throws -> T {
        try with(["-t", "squashfs", "-o", "loop,ro,nodev,nosuid", image], at: target, body)
    }

    /// A tmpfs with `options` (e.g. "size=256k" or "ro,size=1M") at `target`.
    static func withTmpfs<T>(_ options: String, at target: ByteString, _ body: () throws -> T) throws -> T {
        try with(["-t", "tmpfs", "-o", ByteString(options), "tmpfs"], at: target, body)
    }

    static func unmount(_ target: ByteString) {
        if (try? Subprocess.run("umount", [target], timeout: .seconds(60)))?.succeeded == true { return }
        _ = try? Subprocess.run("umount", ["-l", target], timeout: .seconds(60))
    }

    /// Unmounts everything at or below `directory`, the topmost first
    /// (a few rounds: an unmount can uncover a mount stacked below it).
    static func unmountAll(below directory: ByteString) {
        for _ in 0..<3 {
            let left = MountInfo.entries().filter { $0.target.isSameOrBelow(directory) }
            if left.isEmpty { return }
            for entry in left.reversed() { unmount(entry.target) }
        }
    }

    /// Whether loop mounts can work here: root and /dev/loop-control (the
    /// kernel loads squashfs on demand; a missing module shows as a mount error).
    static let canLoopMount: Bool = {
        guard geteuid() == 0, access("/dev/loop-control", F_OK) == 0 else { return false }
        return true
    }()
}

/// Conditions for `.enabled(if:)`.
enum Requirements {
    static var isRoot: Bool { geteuid() == 0 }
    static var hasUnsquashfs: Bool { Subprocess.isInstalled("unsquashfs") }
    static var hasRdsquashfs: Bool { Subprocess.isInstalled("rdsquashfs") }
    static var hasMksquashfs: Bool { Subprocess.isInstalled("mksquashfs") }
}
