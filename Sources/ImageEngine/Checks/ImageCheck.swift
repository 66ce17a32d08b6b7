import Glibc
import SquashFSFormat
import SystemPackage
import SystemSupport

/// The structural parts of `verify`, for commands that must not trust an
/// image they did not just write. Each throws `imageUnreadable` or
/// `imageCorrupt` naming the first problem.
public enum ImageCheck {
    /// The super block and the layout of every table: a few reads, for
    /// `status`, which must stay instant.
    public static func layout(of path: FilePath) throws {
        try withImage(path) { descriptor in
            _ = try ImageHeader(file: SquashFSFile(descriptor: descriptor, writable: false, path: path), path: path)
        }
    }

    /// All metadata: the layout, every directory and inode, and the position
    /// of every data block, but no file contents (a fraction of a second on a
    /// kernel image), for `mount`.
    public static func metadata(of path: FilePath) throws {
        try withImage(path) { descriptor in _ = try ImageReader(descriptor: descriptor, path: path) }
    }

    /// Opens the image read-only for `body`.
    static func withImage<T>(_ path: FilePath, _ body: (FileDescriptor) throws -> T) throws -> T {
        // O_NONBLOCK: opening a FIFO named as the image must not wait for a writer.
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec, .nonBlocking])
        } catch let errno as Errno {
            throw KsqshError(.imageUnreadable, path: path, "cannot open the image", errno: errno)
        }
        defer { try? descriptor.close() }
        let fd = descriptor.rawValue
        guard let info = try? descriptor.stat(), [.regular, .blockSpecial].contains(info.type) else {
            throw KsqshError(.imageUnreadable, path: path, "not a squashfs image: not a regular file or block device")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return try body(descriptor)
    }
}
