import Glibc
import SystemPackage

/// The name of a directory entry, as raw bytes (Linux names need not be UTF-8).
package func entryName(_ entry: UnsafeMutablePointer<dirent>) -> [UInt8] {
    withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
}

/// Whether a raw name is "." or "..".
package func isDotOrDotDot(_ name: [UInt8]) -> Bool {
    name == [0x2E] || name == [0x2E, 0x2E]
}

/// The names in a directory, without "." and ".."; empty if it cannot be read.
package func directoryNames(_ directory: FilePath) -> [String] {
    guard let stream = directory.withPlatformString({ opendir($0) }) else { return [] }
    defer { closedir(stream) }
    var names: [String] = []
    while let entry = readdir(stream) {
        let name = entryName(entry)
        if !isDotOrDotDot(name) { names.append(String(decoding: name, as: UTF8.self)) }
    }
    return names
}

/// Whether a directory holds anything but "." and "..".
package func hasEntries(_ directory: FilePath) -> Bool {
    !directoryNames(directory).isEmpty
}

/// A regular file, or a symlink to one.
package func isRegularFile(_ path: FilePath) -> Bool {
    (try? path.stat())?.type == .regular
}

/// A real directory; with `followingSymlinks`, also a symlink to one.
package func isDirectory(_ path: FilePath, followingSymlinks: Bool = false) -> Bool {
    (try? path.stat(followTargetSymlink: followingSymlinks))?.type == .directory
}

extension Array where Element == UInt8 {
    /// The bytes with a terminating NUL, for C calls taking a name.
    package var cString: [CChar] { map { CChar(bitPattern: $0) } + [0] }
}

/// mkdir -p with mode 0755. Each directory made is synced into its
/// parent before the next is made in it: a file written inside later, and
/// synced with its directory, then survives a power cut with its path.
package func makeDirectories(_ path: FilePath) throws {
    if isDirectory(path, followingSymlinks: true) { return }
    let parent = path.removingLastComponent()
    if parent != path && !parent.isEmpty { try makeDirectories(parent) }
    do {
        try path.makeDirectory()
        syncDirectory(of: path)
    } catch {
        guard error == .fileExists else { throw KsqshError(.writeFailed, path: path, "cannot create directory", errno: error) }
    }
}
