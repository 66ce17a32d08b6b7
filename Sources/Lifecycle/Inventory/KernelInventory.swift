import Glibc
import SystemPackage
import SystemSupport

/// The kernel versions present under EROOT/usr/src: images (linux-KV.sqfs),
/// mount points or unpacked trees (linux-KV/), build dirs (build-KV/).
public struct KernelInventory: Sendable {
    public let eroot: FilePath
    public let images: Set<KernelVersion>
    public let sourceDirectories: Set<KernelVersion>
    public let buildDirectories: Set<KernelVersion>

    public init(eroot: FilePath) {
        self.eroot = eroot
        var images = Set<KernelVersion>()
        var sources = Set<KernelVersion>()
        var builds = Set<KernelVersion>()
        for (name, isDirectory) in KernelInventory.entries(of: KernelLayout.sourcesDirectory(eroot: eroot)) {
            if !isDirectory, name.hasPrefix("linux-"), name.hasSuffix(".sqfs"),
                let version = KernelVersion(String(name.dropFirst(6).dropLast(5)))
            {
                images.insert(version)
            } else if isDirectory, name.hasPrefix("linux-"), let version = KernelVersion(String(name.dropFirst(6))) {
                sources.insert(version)
            } else if isDirectory, name.hasPrefix("build-"), let version = KernelVersion(String(name.dropFirst(6))) {
                builds.insert(version)
            }
        }
        self.images = images
        sourceDirectories = sources
        buildDirectories = builds
    }

    /// Every version with any trace, in version order.
    public var allVersions: [KernelVersion] {
        images.union(sourceDirectories).union(buildDirectories).sorted()
    }

    /// The version a command means: the one given, or the only image there is.
    public func resolve(_ given: KernelVersion?) throws -> KernelVersion {
        if let given { return given }
        switch images.count {
        case 1: return images.first!
        case 0:
            throw KsqshError(.kernelVersionUnknown, path: KernelLayout.sourcesDirectory(eroot: eroot), "no linux-*.sqfs image here; name the version with --kernel")
        default:
            let list = images.sorted().map(\.text).joined(separator: ", ")
            throw KsqshError(.kernelVersionUnknown, path: KernelLayout.sourcesDirectory(eroot: eroot), "several images (\(list)); choose one with --kernel")
        }
    }

    /// Names in a directory with whether each is a real directory (symlinks are not).
    private static func entries(of directory: FilePath) -> [(String, Bool)] {
        directoryNames(directory).map { ($0, isDirectory(directory.appending($0))) }
    }
}
