import Glibc
import SystemPackage

/// The name of a directory entry, as raw bytes (Linux names need not be UTF-8).
func entryName(_ entry: UnsafeMutablePointer<dirent>) -> [UInt8] {
    withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix(while: { $0 != 0 })) }
}

/// Whether a raw name is "." or "..".
func isDotOrDotDot(_ name: [UInt8]) -> Bool {
    name == [0x2E] || name == [0x2E, 0x2E]
}

/// The names in a directory, without "." and ".."; empty if it cannot be read.
func directoryNames(_ directory: FilePath) -> [String] {
    guard let stream = opendir(directory.string) else { return [] }
    defer { closedir(stream) }
    var names: [String] = []
    while let entry = readdir(stream) {
        let name = entryName(entry)
        if !isDotOrDotDot(name) { names.append(String(decoding: name, as: UTF8.self)) }
    }
    return names
}

func isRegularFile(_ path: FilePath) -> Bool {
    var info = stat()
    return stat(path.string, &info) == 0 && info.st_mode & S_IFMT == S_IFREG
}

/// A real directory; with `followingSymlinks`, also a symlink to one.
func isDirectory(_ path: FilePath, followingSymlinks: Bool = false) -> Bool {
    var info = stat()
    let status = followingSymlinks ? stat(path.string, &info) : lstat(path.string, &info)
    return status == 0 && info.st_mode & S_IFMT == S_IFDIR
}
