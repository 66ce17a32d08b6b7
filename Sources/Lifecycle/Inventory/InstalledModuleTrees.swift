import SystemPackage
import SystemSupport

/// The kernels installed under EROOT/lib/modules, each with where its
/// `build` link points. `make modules_install` writes that link to the
/// build dir, and what reads it — out-of-tree module packages, and
/// eclean-kernel, which deletes its target with the kernel — takes it as
/// the kernel's build dir, so status checks that it still leads to one.
struct InstalledModuleTrees {
    struct Tree {
        /// The directory's name: the kernel's release (`uname -r`).
        let release: String
        /// The `build` link's target as written.
        let buildLink: String
    }

    let trees: [Tree]

    init(eroot: FilePath) {
        let modules = eroot.appending("lib/modules")
        trees = directoryNames(modules).sorted().compactMap { release in
            modules.appending(release).appending("build").symbolicLinkTarget.map { Tree(release: release, buildLink: $0) }
        }
    }

    /// The releases whose build link names `directory`, an entry of
    /// usr/src. Compared by its last two components, not resolved: the link
    /// holds the path as seen by the system that installed the kernel, which
    /// for ROOT ≠ / is not where this process finds it.
    func releases(buildingIn directory: FilePath) -> [String] {
        guard let name = directory.lastComponent?.string else { return [] }
        return trees.filter { Self.sourcesEntry(namedBy: $0.buildLink) == name }.map(\.release)
    }

    /// The name in usr/src that a build link names (`…/usr/src/build-KV`
    /// gives `build-KV`); nil for a link elsewhere.
    static func sourcesEntry(namedBy link: String) -> String? {
        let target = FilePath(link)
        return target.removingLastComponent().ends(with: "usr/src") ? target.lastComponent?.string : nil
    }
}
