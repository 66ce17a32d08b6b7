import Glibc
import SystemPackage

/// Deletes a directory tree the careful way: every step is relative to an
/// open directory descriptor, symlinks are removed, never followed, and
/// nothing on another filesystem (a mount inside) is touched.
package enum DirectoryRemoval {
    package static func remove(_ directory: FilePath) throws {
        guard let info = try? directory.stat(followTargetSymlink: false) else { return }
        guard info.type == .directory else {
            throw KsqshError(.pathRefused, path: directory, "is not a real directory (a symlink?); refusing to delete through it")
        }
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.openDirectory(directory, followingSymlinks: false)
        } catch {
            throw KsqshError(.deleteFailed, path: directory, "cannot open", errno: error)
        }
        try removeContents(of: descriptor, path: directory, device: info.deviceID)
        try? descriptor.close()
        do {
            try directory.removeDirectory()
        } catch {
            throw KsqshError(.deleteFailed, path: directory, "cannot remove", errno: error)
        }
    }

    private static func removeContents(of descriptor: FileDescriptor, path: FilePath, device: DeviceID) throws {
        guard let stream = fdopendir(dup(descriptor.rawValue)) else { throw KsqshError(.deleteFailed, path: path, "cannot list", errno: .current) }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = entryName(entry)
            if isDotOrDotDot(name) { continue }
            let child = path.appending(String(decoding: name, as: UTF8.self))
            guard let info = try? Stat(name.cString, relativeTo: descriptor, flags: .symlinkNoFollow) else { continue }
            if info.type == .directory {
                guard info.deviceID == device else {
                    throw KsqshError(.pathRefused, path: child, "is another filesystem mounted inside; unmount it first")
                }
                let childDescriptor: FileDescriptor
                do {
                    childDescriptor = try descriptor.openEntry(name.cString, .readOnly, options: [.directory, .noFollow, .closeOnExec])
                } catch {
                    throw KsqshError(.deleteFailed, path: child, "cannot open", errno: error)
                }
                defer { try? childDescriptor.close() }
                try removeContents(of: childDescriptor, path: child, device: device)
            }
            do {
                try descriptor.removeEntry(name.cString, isDirectory: info.type == .directory)
            } catch {
                throw KsqshError(.deleteFailed, path: child, "cannot remove", errno: error)
            }
        }
    }
}
