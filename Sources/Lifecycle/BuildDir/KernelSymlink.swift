import Glibc
import SystemPackage
import SystemSupport

/// EROOT/usr/src/linux, the link eselect kernel, linux-info.eclass and
/// everyone's muscle memory use.
public enum KernelSymlink {
    /// Points the link at `name` (relative, inside usr/src), atomically: a
    /// new link is made beside it and renamed over it. Refuses to replace
    /// anything that is not a symlink.
    public static func point(_ link: FilePath, at name: String) throws {
        if let info = try? link.stat(followTargetSymlink: false), info.type != .symbolicLink {
            throw KsqshError(
                .pathRefused, path: link,
                "is a real \(info.type == .directory ? "directory" : "file"), not a symlink; move it away to let ksqsh manage it")
        }
        let staging = hiddenTemporaryName(for: link)
        do {
            try staging.makeSymbolicLink(pointingTo: name)
        } catch {
            throw KsqshError(.writeFailed, path: link, "cannot create the symlink", errno: error)
        }
        do {
            try staging.rename(to: link)
        } catch {
            try? staging.unlink()
            throw KsqshError(.writeFailed, path: link, "cannot replace the symlink", errno: error)
        }
    }

    /// Where the link points (as written), if it is a symlink.
    public static func target(of link: FilePath) -> String? {
        link.symbolicLinkTarget
    }
}
