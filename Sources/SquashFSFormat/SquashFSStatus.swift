import CSquashFS

/// Turns a libsquashfs status code (0 or a negative SQFS_ERROR_*) into a thrown error.
package enum SquashFSStatus {
    /// The name of a libsquashfs error code, for messages.
    package static func describe(_ code: Int32) -> String {
        switch code {
        case SQFS_ERROR_ALLOC.rawValue: "out of memory"
        case SQFS_ERROR_IO.rawValue: "input/output error"
        case SQFS_ERROR_COMPRESSOR.rawValue: "compressor failure"
        case SQFS_ERROR_CORRUPTED.rawValue: "data is corrupted"
        case SQFS_ERROR_UNSUPPORTED.rawValue: "unsupported feature"
        case SQFS_ERROR_OVERFLOW.rawValue: "numeric overflow"
        case SQFS_ERROR_OUT_OF_BOUNDS.rawValue: "location out of bounds"
        case SFQS_ERROR_SUPER_MAGIC.rawValue: "not a squashfs image (wrong magic)"  // sic: the 1.2 header spells it SFQS
        case SFQS_ERROR_SUPER_VERSION.rawValue: "unsupported squashfs version"
        case SQFS_ERROR_SUPER_BLOCK_SIZE.rawValue: "invalid block size"
        case SQFS_ERROR_NOT_DIR.rawValue: "not a directory"
        case SQFS_ERROR_NO_ENTRY.rawValue: "no such entry"
        case SQFS_ERROR_LINK_LOOP.rawValue: "hard link loop"
        case SQFS_ERROR_NOT_FILE.rawValue: "not a regular file"
        case SQFS_ERROR_ARG_INVALID.rawValue: "invalid argument"
        case SQFS_ERROR_SEQUENCE.rawValue: "calls in the wrong order"
        default: "libsquashfs error \(code)"
        }
    }
}
