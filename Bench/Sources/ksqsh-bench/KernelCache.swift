import Foundation
import Glibc

/// The unpacked Debian kernel source that `make kernel-tree`, `make setup`
/// and this bench share, so the 1.7 GB tree is unpacked once per machine.
/// Same layout and marker as the Makefile: the tree counts as complete only
/// when `.unpacked` exists, because an interrupted unpack leaves a partial
/// tree that would silently shrink every measurement.
enum KernelCache {
    static let directory = "/var/cache/ksqsh"
    static let treeName = "linux-source-6.12"
    static let tarball = "/usr/src/linux-source-6.12.tar.xz"
    static var tree: String { "\(directory)/\(treeName)" }
    static var marker: String { "\(directory)/.unpacked" }

    /// The tree's path, unpacking the tarball first when the marker is missing.
    /// `logDirectory` receives tar's output in case it fails.
    static func ensureUnpacked(logDirectory: String) throws -> String {
        guard FileManager.default.fileExists(atPath: marker) || FileManager.default.fileExists(atPath: tarball) else {
            throw BenchError(
                "\(tree) is not unpacked and \(tarball) is missing; "
                    + "run `make deps` (Debian package linux-source-6.12) or pass --source DIR")
        }
        return try unpacked(tarball, treeName: treeName, marker: marker, logDirectory: logDirectory)
    }

    /// `directory/treeName`, unpacked from `tarball` once: beside the final
    /// place and renamed, so a crash never leaves a half tree under the real
    /// name, with `marker` written last.
    static func unpacked(_ tarball: String, treeName: String, marker: String, logDirectory: String) throws -> String {
        let files = FileManager.default
        let tree = "\(directory)/\(treeName)"
        if files.fileExists(atPath: marker) { return tree }
        guard let tar = Executables.find("tar") else {
            throw BenchError("tar is not on PATH; cannot unpack \(tarball)")
        }
        print("Unpacking \(tarball) into \(directory) (once per machine)…")
        let staging = "\(directory)/.unpacking-\(treeName)"
        try? files.removeItem(atPath: staging)
        try? files.removeItem(atPath: tree)
        try files.createDirectory(atPath: staging, withIntermediateDirectories: true)
        let untar = ChildProcess(
            executable: tar, arguments: ["-xf", tarball, "-C", staging],
            stdoutPath: "\(logDirectory)/tar.stdout", stderrPath: "\(logDirectory)/tar.stderr")
        let result = try untar.run()
        try Interruption.check()
        guard result.termination.succeeded else {
            throw BenchError(
                "tar -xf \(tarball) failed with \(result.termination):\n\(Logs.tail(of: untar.stderrPath))")
        }
        try files.moveItem(atPath: "\(staging)/\(treeName)", toPath: tree)
        try files.removeItem(atPath: staging)
        try "done\n".write(toFile: marker, atomically: true, encoding: .utf8)
        return tree
    }
}

/// Size of the input, and the read that warms the page cache.
struct TreeStats {
    var entries = 0
    var regularFiles = 0
    var bytes: Int64 = 0
}

enum PageCache {
    /// Reads every regular file once so that no tool pays for cold disk reads
    /// the others do not (the first tool would otherwise lose by I/O alone).
    /// Reading through a pipe to /dev/null is deliberate: GNU tar skips file
    /// contents when its archive *is* /dev/null, so `tar cf /dev/null` warms
    /// nothing.
    static func warm(_ root: String) throws -> TreeStats {
        guard let walker = FileManager.default.enumerator(atPath: root) else {
            throw BenchError("cannot list \(root)")
        }
        var stats = TreeStats()
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 4096)
        defer { buffer.deallocate() }
        while let relative = walker.nextObject() as? String {
            try Interruption.check()
            let path = "\(root)/\(relative)"
            var info = stat()
            guard lstat(path, &info) == 0 else {
                throw BenchError("cannot lstat \(path): \(String(cString: strerror(errno)))")
            }
            stats.entries += 1
            // Symlinks and devices have no data blocks to cache.
            guard info.st_mode & S_IFMT == S_IFREG else { continue }
            stats.regularFiles += 1
            stats.bytes += try readFully(path, into: buffer, capacity: 1 << 20)
        }
        return stats
    }

    private static func readFully(_ path: String, into buffer: UnsafeMutableRawPointer, capacity: Int) throws -> Int64 {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw BenchError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var total: Int64 = 0
        while true {
            let count = read(fd, buffer, capacity)
            if count == 0 { return total }
            if count < 0 {
                if errno == EINTR { continue }
                throw BenchError("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            total += Int64(count)
        }
    }
}
