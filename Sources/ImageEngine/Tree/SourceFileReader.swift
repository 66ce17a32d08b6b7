import CSystemShim
import Glibc
import SystemPackage
import SystemSupport

/// Opens and reads one regular file of a scanned tree, checking that it is
/// still the file that was scanned and that nobody changes it meanwhile.
final class SourceFileReader: FileContent {
    let node: TreeNode
    let path: FilePath
    private let fd: Int32
    private let before: stat

    init(_ node: TreeNode, in tree: SourceTree) throws {
        self.node = node
        path = tree.path.appending(node.displayPath)
        // O_NONBLOCK: if the file was swapped for a FIFO, open must not hang.
        let fd = openat(tree.descriptor.rawValue, node.relativePath.cString, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = Glibc.errno
            if code == ENOENT || code == ELOOP {
                throw KsqshError(.sourceChanged, path: path, "file vanished or was replaced while squashing; run again on a tree nobody is changing")
            }
            throw KsqshError(.sourceUnreadable, path: path, "cannot open", errno: Errno(rawValue: code))
        }
        var info = stat()
        fstat(fd, &info)
        guard info.st_mode & S_IFMT == S_IFREG, UInt64(info.st_ino) == node.identity.inode,
            UInt64(info.st_dev) == node.identity.device, UInt64(info.st_size) == node.size
        else {
            close(fd)
            throw KsqshError(.sourceChanged, path: path, "file changed while squashing; run again on a tree nobody is changing")
        }
        self.fd = fd
        before = info
    }

    deinit { close(fd) }

    /// Fills `buffer` with exactly `buffer.count` bytes from `offset`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let got = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if got < 0 {
                if Glibc.errno == EINTR { continue }
                throw KsqshError(.sourceUnreadable, path: path, "read failed", errno: Errno(rawValue: Glibc.errno))
            }
            if got == 0 {
                throw KsqshError(.sourceChanged, path: path, "file shrank while squashing; run again on a tree nobody is changing")
            }
            done += got
        }
    }

    /// Whether the file has holes at all (fewer blocks allocated than its size).
    var mayHaveHoles: Bool { Int64(before.st_blocks) * 512 < Int64(before.st_size) }

    /// Whether `length` bytes at `offset` are all hole, so they read as
    /// zeros without reading them (SEEK_DATA finds the next data).
    func isHole(at offset: UInt64, length: Int) -> Bool {
        guard mayHaveHoles else { return false }
        let next = ksqsh_seek_data(fd, off_t(offset))
        if next < 0 { return Glibc.errno == ENXIO }
        return UInt64(next) >= offset + UInt64(length)
    }

    /// Confirms the file was not modified while it was read.
    func confirmUnchanged() throws {
        var after = stat()
        fstat(fd, &after)
        guard after.st_size == before.st_size, after.st_mtim.tv_sec == before.st_mtim.tv_sec,
            after.st_mtim.tv_nsec == before.st_mtim.tv_nsec, after.st_ctim.tv_nsec == before.st_ctim.tv_nsec
        else {
            throw KsqshError(.sourceChanged, path: path, "file was modified while squashing; run again on a tree nobody is changing")
        }
    }
}
