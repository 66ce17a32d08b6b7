import Glibc
import SystemPackage
import SystemSupport

/// Portage's record of installed packages (EROOT/var/db/pkg), to tell which
/// package owns an image.
struct InstalledPackages {
    private let owners: [String: String]
    let isAvailable: Bool

    init(eroot: FilePath) {
        let database = eroot.appending("var/db/pkg/sys-kernel")
        isAvailable = isDirectory(eroot.appending("var/db/pkg"), followingSymlinks: true)
        var owners: [String: String] = [:]
        for package in directoryNames(database) {
            guard let contents = try? readSmallFile(database.appending(package).appending("CONTENTS"), limit: 64 << 20) else { continue }
            for line in contents.split(separator: "\n") where line.hasPrefix("obj /usr/src/") && line.contains(".sqfs ") {
                // "obj PATH MD5 MTIME": the path may contain spaces, the last two fields do not.
                let fields = line.dropFirst(4).split(separator: " ")
                guard fields.count >= 3 else { continue }
                owners[fields.dropLast(2).joined(separator: " ")] = "sys-kernel/\(package)"
            }
        }
        self.owners = owners
    }

    /// The owner of EROOT/usr/src/NAME (CONTENTS paths are without ROOT).
    func owner(of image: FilePath) -> String? {
        guard let name = image.lastComponent?.string else { return nil }
        return owners.first { $0.key.hasSuffix("/usr/src/" + name) }?.value
    }
}
