import Glibc
import SystemPackage

/// Deletes a directory tree the careful way: every step is relative to an
/// open directory descriptor, symlinks are removed, never followed, and
/// nothing on another filesystem (a mount inside) is touched.
package enum DirectoryRemoval {
    package static func remove(_ directory: FilePath) throws {
        var info = stat()
        guard lstat(directory.string, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            throw KsqshError(.pathRefused, path: directory, "is not a real directory (a symlink?); refusing to delete through it")
        }
        let fd = open(directory.string, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw KsqshError(.deleteFailed, path: directory, "cannot open", errno: Errno(rawValue: errno)) }
        try removeContents(of: fd, path: directory, device: info.st_dev)
        close(fd)
        guard rmdir(directory.string) == 0 else {
            throw KsqshError(.deleteFailed, path: directory, "cannot remove", errno: Errno(rawValue: errno))
        }
    }

    private static func removeContents(of fd: Int32, path: FilePath, device: dev_t) throws {
        guard let stream = fdopendir(dup(fd)) else { throw KsqshError(.deleteFailed, path: path, "cannot list", errno: Errno(rawValue: errno)) }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = entryName(entry)
            if isDotOrDotDot(name) { continue }
            let child = path.appending(String(decoding: name, as: UTF8.self))
            var info = stat()
            guard fstatat(fd, name.cString, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFDIR {
                guard info.st_dev == device else {
                    throw KsqshError(.pathRefused, path: child, "is another filesystem mounted inside; unmount it first")
                }
                let childFD = openat(fd, name.cString, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard childFD >= 0 else { throw KsqshError(.deleteFailed, path: child, "cannot open", errno: Errno(rawValue: errno)) }
                defer { close(childFD) }
                try removeContents(of: childFD, path: child, device: device)
            }
            guard unlinkat(fd, name.cString, info.st_mode & S_IFMT == S_IFDIR ? AT_REMOVEDIR : 0) == 0 else {
                throw KsqshError(.deleteFailed, path: child, "cannot remove", errno: Errno(rawValue: errno))
            }
        }
    }
}
