import Glibc
import SquashFSFormat
import SystemPackage
import SystemSupport

/// How `ksqsh squash` builds an image.
public struct SquashOptions: Sendable {
    /// Data block size: a power of two from 4 KiB to 1 MiB.
    public var blockSize: Int = 1 << 20
    public var compression: Compression = .xz
    /// Compression threads.
    public var jobs: Int = Processors.available
    /// Record the tree's owners instead of root:root. Portage hands the tree
    /// over owned by the portage user, so root is the right default.
    public var keepOwner = false
    /// The image's time stamp; nil: SOURCE_DATE_EPOCH, else the newest mtime
    /// in the tree, so the same tree always gives the same bytes.
    public var modificationTime: UInt32?
    /// Where file data goes in the image; nil: `kernel` for kernel trees, else `plain`.
    public var layout: DataLayout?
    /// Priorities that reorder the layout's files (`--sort-file`).
    public var sortFile: SortFile?
    /// Earlier images whose compressed blocks are copied where they hold
    /// the same bytes (`--reuse`); the image is the same as without them.
    public var reuse: [FilePath] = []
    /// How a reused block's content is confirmed (set by `Squash`, which
    /// knows whether a verify follows).
    var reuseConfirmation = ReuseConfirmation.decompressing

    public init() {}

    /// SOURCE_DATE_EPOCH, if set to a valid time.
    public static var sourceDateEpoch: UInt32? {
        ProcessEnvironment.value(of: "SOURCE_DATE_EPOCH").flatMap { UInt32($0) }
    }

    /// Parses "1M", "128K", "131072".
    public static func parseSize(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "k": 1 << 10, "M": 1 << 20, "m": 1 << 20]
        if let last = text.last, let unit = units[last] {
            return Int(text.dropLast()).map { $0 * unit }
        }
        return Int(text)
    }

    public static func isValidBlockSize(_ size: Int) -> Bool {
        size >= 4096 && size <= 1 << 20 && size & (size - 1) == 0
    }
}

