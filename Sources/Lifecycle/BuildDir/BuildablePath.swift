import SystemPackage
import SystemSupport

extension Prepare {
    /// Bytes the kernel's make cannot take in `-C` or `O=` paths: kbuild
    /// refuses whitespace and ':', make expands '$', and its recipes pass
    /// the paths to the shell unquoted (quotes, '*', '?', ';', '&', '|', …).
    static let bytesKbuildCannotTake = Set(" \t\n\r\u{0B}\u{0C}:$'\"*?\\;&()|<>`".utf8)

    /// Refuses, before anything changes, a layout whose mount point or
    /// build dir the kernel's make would fail on half-way (mount done,
    /// build dir empty). Mounting alone works with any name.
    public static func requireBuildablePaths(_ layout: KernelLayout) throws {
        for path in [layout.mountPoint, layout.buildDirectory] {
            if let unusable = unusableByte(in: path) {
                throw KsqshError(
                    .pathRefused, path: path,
                    "the kernel's make cannot build in a path containing '\(shown(unusable))' (nor whitespace, ':', '$', quotes or shell wildcards); use a ROOT without them")
            }
        }
    }

    /// The first byte of `path` that kbuild or its scripts cannot take, if any.
    static func unusableByte(in path: FilePath) -> UInt8? {
        path.withPlatformString { pointer -> UInt8? in
            var cursor = pointer
            while cursor.pointee != 0 {
                let byte = UInt8(bitPattern: cursor.pointee)
                if byte < 0x20 || byte == 0x7F || bytesKbuildCannotTake.contains(byte) { return byte }
                cursor += 1
            }
            return nil
        }
    }

    /// A byte as an error message can show it.
    static func shown(_ byte: UInt8) -> String {
        DisplayedText.oneLine(String(decoding: [byte], as: UTF8.self))
    }
}
