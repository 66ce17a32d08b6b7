import SystemPackage
import SystemSupport

/// Where everything of one kernel version lives, derived from portage's
/// ROOT and EPREFIX (EROOT = ROOT + EPREFIX) and the version KV_FULL:
///
///     EROOT/usr/src/linux-KV.sqfs               the image (owned by the package)
///     EROOT/usr/src/linux-KV                    its mount point
///     EROOT/usr/src/build-KV                    the out-of-tree build dir
///     EROOT/usr/src/linux                       the symlink eselect kernel and linux-info use
///     EROOT/etc/kernels/kernel-config-KV        saved configs (genkernel's place)
///     EROOT/etc/portage/savedconfig/sys-kernel  savedconfig.eclass's configs, by package
///     EROOT/etc/kernel/config.d/*.config        fragments merged over the base config
public struct KernelLayout: Sendable, Equatable {
    public let eroot: FilePath
    public let version: KernelVersion

    public init(root: FilePath = "/", eprefix: String = "", version: KernelVersion) {
        eroot = KernelLayout.eroot(root: root, eprefix: eprefix)
        self.version = version
    }

    public init(eroot: FilePath, version: KernelVersion) {
        self.eroot = eroot
        self.version = version
    }

    /// ROOT + EPREFIX, as portage forms EROOT.
    public static func eroot(root: FilePath, eprefix: String) -> FilePath {
        let prefix = FilePath(eprefix)
        return prefix.isEmpty ? root : root.pushing(prefix.removingRoot())
    }

    public static func sourcesDirectory(eroot: FilePath) -> FilePath { eroot.appending("usr/src") }
    public static func savedConfigsDirectory(eroot: FilePath) -> FilePath { eroot.appending("etc/kernels") }

    public var sourcesDirectory: FilePath { KernelLayout.sourcesDirectory(eroot: eroot) }
    public var image: FilePath { sourcesDirectory.appending("linux-\(version).sqfs") }
    public var mountPoint: FilePath { sourcesDirectory.appending("linux-\(version)") }
    public var buildDirectory: FilePath { sourcesDirectory.appending("build-\(version)") }
    public var symlink: FilePath { sourcesDirectory.appending("linux") }
    public var savedConfigsDirectory: FilePath { KernelLayout.savedConfigsDirectory(eroot: eroot) }
    public var savedConfig: FilePath { savedConfigsDirectory.appending("kernel-config-\(version)") }
    /// Where savedconfig.eclass keeps a package's config: named PF, P or PN.
    public var portageSavedConfigsDirectory: FilePath { eroot.appending("etc/portage/savedconfig/sys-kernel") }
    /// The fragments dist-kernels merge over their base config (kernel-build.eclass).
    public var configFragmentsDirectory: FilePath { eroot.appending("etc/kernel/config.d") }
}

/// A kernel version as portage's KV_FULL spells it: `6.12.10-gentoo`,
/// `6.12.10-gentoo-r1`. Only characters that are safe in a file name and in
/// a shell word are accepted, so a version can never name another path.
public struct KernelVersion: Sendable, Hashable, CustomStringConvertible, Comparable {
    public let text: String

    public init?(_ text: String) {
        guard let first = text.unicodeScalars.first, first.isASCIIDigit,
            text.count <= 128,
            text.unicodeScalars.allSatisfy({ $0.isASCIIDigit || $0.isASCIILetter || "._+-".unicodeScalars.contains($0) }),
            !text.contains("..")
        else { return nil }
        self.text = text
    }

    public var description: String { text }

    /// Version order, as `sort -V`: runs of digits compare as numbers.
    public static func < (lhs: KernelVersion, rhs: KernelVersion) -> Bool {
        VersionOrder.precedes(lhs.text, rhs.text)
    }
}

/// `sort -V` order: the text is split into runs of digits and runs of
/// anything else; digit runs compare as numbers, other runs by bytes.
enum VersionOrder {
    static func precedes(_ left: String, _ right: String) -> Bool {
        let a = tokens(left)
        let b = tokens(right)
        for (x, y) in zip(a, b) where x != y {
            if let first = x.first, let second = y.first, isDigit(first), isDigit(second) {
                let numberX = x.drop(while: { $0 == UInt8(ascii: "0") })
                let numberY = y.drop(while: { $0 == UInt8(ascii: "0") })
                if numberX.count != numberY.count { return numberX.count < numberY.count }
                if numberX != numberY { return numberX.lexicographicallyPrecedes(numberY) }
                continue
            }
            return x.lexicographicallyPrecedes(y)
        }
        return a.count < b.count
    }

    private static func tokens(_ text: String) -> [ArraySlice<UInt8>] {
        let bytes = Array(text.utf8)
        var result: [ArraySlice<UInt8>] = []
        var start = 0
        while start < bytes.count {
            let digits = isDigit(bytes[start])
            var end = start + 1
            while end < bytes.count && isDigit(bytes[end]) == digits { end += 1 }
            result.append(bytes[start..<end])
            start = end
        }
        return result
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}
