import Glibc
import SystemPackage
import SystemSupport

/// Opens and reads one regular file of a scanned tree, checking that it is
/// still the file that was scanned and that nobody changes it meanwhile.
final class SourceFileReader: FileContent {
    let node: TreeNode
    let path: FilePath
    private let descriptor: FileDescriptor
    private let before: Stat

    init(_ node: TreeNode, in tree: SourceTree) throws {
        self.node = node
        path = tree.path.appending(node.displayPath)
        // O_NONBLOCK: if the file was swapped for a FIFO, open must not hang.
        let descriptor: FileDescriptor
        do {
            descriptor = try tree.descriptor.openEntry(
                node.relativePath.cString, .readOnly, options: [.noFollow, .nonBlocking, FileDescriptor.OpenOptions(rawValue: O_NOCTTY), .closeOnExec])
        } catch {
            if error == .noSuchFileOrDirectory || error == .tooManySymbolicLinkLevels {
                throw KsqshError(.sourceChanged, path: path, "file vanished or was replaced while squashing; run again on a tree nobody is changing")
            }
            throw KsqshError(.sourceUnreadable, path: path, "cannot open", errno: error)
        }
        guard let info = try? descriptor.stat(), info.type == .regular, UInt64(info.inode.rawValue) == node.identity.inode,
            UInt64(info.deviceID.rawValue) == node.identity.device, UInt64(info.size) == node.size
        else {
            try? descriptor.close()
            throw KsqshError(.sourceChanged, path: path, "file changed while squashing; run again on a tree nobody is changing")
        }
        self.descriptor = descriptor
        before = info
    }

    deinit { try? descriptor.close() }

    /// Fills `buffer` with exactly `buffer.count` bytes from `offset`.
    func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let got = pread(descriptor.rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            if got < 0 {
                if Glibc.errno == EINTR { continue }
                throw KsqshError(.sourceUnreadable, path: path, "read failed", errno: .current)
            }
            if got == 0 {
                throw KsqshError(.sourceChanged, path: path, "file shrank while squashing; run again on a tree nobody is changing")
            }
            done += got
        }
    }

    /// Whether the file has holes at all (fewer blocks allocated than its size).
    var mayHaveHoles: Bool { before.blocksAllocated * 512 < before.size }

    /// Whether `length` bytes at `offset` are all hole, so they read as
    /// zeros without reading them (SEEK_DATA finds the next data).
    func isHole(at offset: UInt64, length: Int) -> Bool {
        guard mayHaveHoles else { return false }
        do {
            return UInt64(try descriptor.seekData(from: Int64(offset))) >= offset + UInt64(length)
        } catch {
            return error == .noSuchAddressOrDevice
        }
    }

    /// Confirms the file was not modified while it was read.
    func confirmUnchanged() throws {
        guard let after = try? descriptor.stat(), after.size == before.size, after.st_mtim.tv_sec == before.st_mtim.tv_sec,
            after.st_mtim.tv_nsec == before.st_mtim.tv_nsec, after.st_ctim.tv_nsec == before.st_ctim.tv_nsec
        else {
            throw KsqshError(.sourceChanged, path: path, "file was modified while squashing; run again on a tree nobody is changing")
        }
    }
}
