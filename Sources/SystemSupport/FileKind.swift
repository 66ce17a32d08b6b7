import Glibc

/// The types of file a Linux directory tree holds, as squashfs and tar
/// record them too.
public enum FileKind: Sendable, Equatable {
    case directory, regular, symlink, characterDevice, blockDevice, fifo, socket
}

extension FileKind {
    /// The kind `stat` reports in `st_mode`.
    package init?(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFDIR: self = .directory
        case S_IFREG: self = .regular
        case S_IFLNK: self = .symlink
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFIFO: self = .fifo
        case S_IFSOCK: self = .socket
        default: return nil
        }
    }
}
