import Glibc
import Mounting
import SystemPackage
import SystemSupport

/// EROOT/usr/src/linux, the link eselect kernel, linux-info.eclass and
/// everyone's muscle memory use.
public enum KernelSymlink {
    /// Points the link at `name` (relative, inside usr/src), atomically: a
    /// new link is made beside it and renamed over it. Refuses to replace
    /// anything that is not a symlink.
    public static func point(_ link: FilePath, at name: String) throws {
        var info = stat()
        if lstat(link.string, &info) == 0, info.st_mode & S_IFMT != S_IFLNK {
            throw KsqshError(
                .pathRefused, path: link,
                "is a real \(info.st_mode & S_IFMT == S_IFDIR ? "directory" : "file"), not a symlink; move it away to let ksqsh manage it")
        }
        let staging = hiddenTemporaryName(for: link)
        guard symlink(name, staging.string) == 0 else {
            throw KsqshError(.writeFailed, path: link, "cannot create the symlink", errno: Errno(rawValue: errno))
        }
        guard rename(staging.string, link.string) == 0 else {
            let code = errno
            unlink(staging.string)
            throw KsqshError(.writeFailed, path: link, "cannot replace the symlink", errno: Errno(rawValue: code))
        }
    }

    /// Where the link points (as written), if it is a symlink.
    public static func target(of link: FilePath) -> String? {
        MountEnvironment.linkTarget(link.string)
    }
}
