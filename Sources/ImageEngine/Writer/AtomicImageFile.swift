import Glibc
import SystemPackage
import SystemSupport

/// The image file while it is being written: an unnamed file (O_TMPFILE) in
/// the target's directory, given its name only when complete. If the process
/// dies first — even by SIGKILL — the kernel frees it and nothing is left.
/// Where the filesystem lacks O_TMPFILE, a hidden named temporary is used
/// and removed on failure (and on SIGINT/SIGTERM, see `InterruptCleanup`).
public final class AtomicImageFile {
    public let target: FilePath
    let descriptor: FileDescriptor
    private let force: Bool
    /// Only in the fallback: the named temporary holding the data.
    private var temporaryPath: FilePath?
    private var committed = false
    /// Images are world-readable, like the sources they replace.
    static let mode: mode_t = 0o644

    public init(creating target: FilePath, force: Bool) throws {
        self.target = target
        self.force = force
        let directory = target.removingLastComponent().isEmpty ? FilePath(".") : target.removingLastComponent()
        try AtomicImageFile.checkDirectory(directory)
        if !force, AtomicImageFile.exists(target) {
            throw KsqshError(.imageExists, path: target, "image already exists; use --force to replace it")
        }
        // A named temporary or --force's staging link that a power cut left
        // would otherwise keep a whole image's blocks, hidden, for good.
        removeLeftoverTemporaries(of: target)
        do {
            descriptor = try FileDescriptor.openUnnamed(in: directory, permissions: FilePermissions(rawValue: AtomicImageFile.mode))
            // Some versions of portage's sandbox pass open()'s mode on only
            // with O_CREAT, which O_TMPFILE lacks: set it explicitly.
            fchmod(descriptor.rawValue, AtomicImageFile.mode)
            return
        } catch {
            let code = error.rawValue
            guard code == EOPNOTSUPP || code == EISDIR || code == EINVAL else {
                throw AtomicImageFile.createError(directory, code)
            }
        }
        let temporary = hiddenTemporaryName(for: target)
        do {
            descriptor = try FileDescriptor.open(
                temporary, .readWrite, options: [.create, .exclusiveCreate, .closeOnExec, .noFollow], permissions: FilePermissions(rawValue: AtomicImageFile.mode))
        } catch let errno as Errno {
            throw AtomicImageFile.createError(directory, errno.rawValue)
        }
        temporaryPath = temporary
        InterruptCleanup.register(temporary)
    }

    deinit {
        try? descriptor.close()
        if !committed, let temporaryPath {
            try? temporaryPath.unlink()
            InterruptCleanup.unregister()
        }
    }

    /// Flushes the data to disk and gives the file its name (replacing an
    /// existing image only with `force`), then flushes the directory.
    public func commit() throws {
        guard fsync(descriptor.rawValue) == 0 else { throw writeError(Glibc.errno) }
        if let temporaryPath {
            try rename(temporaryPath)
            InterruptCleanup.unregister()
        } else if force {
            // linkat cannot replace: link under a hidden name, then rename over the target.
            let staging = hiddenTemporaryName(for: target)
            try link(to: staging)
            do { try rename(staging) } catch {
                try? staging.unlink()
                throw error
            }
        } else {
            try link(to: target)
        }
        committed = true
        syncDirectory(of: target)
    }

    private func link(to name: FilePath) throws {
        do {
            try descriptor.linkUnnamed(as: name)
        } catch {
            if error == .fileExists {
                throw KsqshError(.imageExists, path: target, "image appeared while squashing; use --force to replace it")
            }
            throw writeError(error.rawValue)
        }
    }

    private func rename(_ from: FilePath) throws {
        do {
            try from.rename(to: target)
        } catch {
            throw writeError(error.rawValue)
        }
    }

    private func writeError(_ code: Int32) -> KsqshError {
        KsqshError(code == ENOSPC ? .noSpace : .writeFailed, path: target, "cannot write the image", errno: Errno(rawValue: code))
    }

    private static func checkDirectory(_ directory: FilePath) throws {
        guard let info = try? directory.stat() else {
            throw KsqshError(.imageDirectoryMissing, path: directory, "directory for the image does not exist; create it first")
        }
        guard info.type == .directory else {
            throw KsqshError(.imageDirectoryMissing, path: directory, "is not a directory, so the image cannot be created in it")
        }
    }

    private static func exists(_ path: FilePath) -> Bool {
        (try? path.stat(followTargetSymlink: false)) != nil
    }

    private static func createError(_ directory: FilePath, _ code: Int32) -> KsqshError {
        switch code {
        case EROFS, EACCES, EPERM:
            KsqshError(.imageDirectoryNotWritable, path: directory, "cannot create the image here; choose a writable directory", errno: Errno(rawValue: code))
        case ENOSPC, EDQUOT:
            KsqshError(.noSpace, path: directory, "no space for the image", errno: Errno(rawValue: code))
        case ENOENT, ENOTDIR:
            KsqshError(.imageDirectoryMissing, path: directory, "directory for the image does not exist", errno: Errno(rawValue: code))
        default:
            KsqshError(.writeFailed, path: directory, "cannot create the image", errno: Errno(rawValue: code))
        }
    }
}
