import Glibc
import SystemPackage
import SystemSupport

/// Portage's record of installed packages (EROOT/var/db/pkg), to tell which
/// package owns an image, or the plain sources before adopt.
package struct InstalledPackages {
    private let owners: [String: String]
    let isAvailable: Bool

    package init(eroot: FilePath) {
        let database = eroot.appending("var/db/pkg/sys-kernel")
        isAvailable = isDirectory(eroot.appending("var/db/pkg"), followingSymlinks: true)
        var owners: [String: String] = [:]
        for package in directoryNames(database) {
            guard let contents = try? readSmallFile(database.appending(package).appending("CONTENTS"), limit: 64 << 20) else { continue }
            for line in contents.split(separator: "\n") {
                if line.hasPrefix("obj "), line.contains("/usr/src/"), line.contains(".sqfs ") {
                    // "obj PATH MD5 MTIME": the path may contain spaces, the last two fields do not.
                    let fields = line.dropFirst(4).split(separator: " ")
                    guard fields.count >= 3 else { continue }
                    owners[fields.dropLast(2).joined(separator: " ")] = "sys-kernel/\(package)"
                } else if line.hasPrefix("dir "), let top = line.firstRange(of: "/usr/src/linux-"), !line[top.upperBound...].contains("/") {
                    // Plain sources (before `ksqsh adopt`): "dir PATH". The top directory
                    // only: the tree's thousands of others would just fill the table.
                    owners[String(line.dropFirst(4))] = "sys-kernel/\(package)"
                }
            }
        }
        self.owners = owners
    }

    /// The owner of EROOT/usr/src/NAME (CONTENTS paths are without ROOT).
    func owner(of path: FilePath) -> String? {
        guard let name = path.lastComponent?.string else { return nil }
        return owners.first { $0.key.hasSuffix("/usr/src/" + name) }?.value
    }

    /// The images (`linux-KV.sqfs`) in `sourcesDirectory` that a package
    /// named `name` (PN) installed, oldest version first.
    package func images(ofPackageNamed name: String, in sourcesDirectory: FilePath) -> [FilePath] {
        let owned = owners.compactMap { path, owner -> (KernelVersion, FilePath)? in
            guard KernelPackage(fullName: String(owner.dropFirst("sys-kernel/".count)))?.name == name,
                let file = FilePath(path).lastComponent?.string, file.hasPrefix("linux-"), file.hasSuffix(".sqfs"),
                let version = KernelVersion(String(file.dropFirst("linux-".count).dropLast(".sqfs".count)))
            else { return nil }
            let image = sourcesDirectory.appending(file)
            return isRegularFile(image) ? (version, image) : nil
        }
        return owned.sorted { $0.0 < $1.0 }.map(\.1)
    }

    /// The package that installed this version: the owner of its image,
    /// else of its plain sources (not adopted yet).
    package func package(of layout: KernelLayout) -> KernelPackage? {
        guard let owner = owner(of: layout.image) ?? owner(of: layout.mountPoint) else { return nil }
        return KernelPackage(fullName: String(owner.dropFirst("sys-kernel/".count)))
    }
}
