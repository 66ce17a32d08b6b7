import SystemPackage

/// Every failure ksqsh reports: what failed, on which path, and what to do.
///
/// Each kind has its own exit status (see `exitStatus`), documented in
/// README.md, so scripts and the portage hooks can tell them apart.
public struct KsqshError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        case sourceMissing
        case sourceNotDirectory
        case sourceUnreadable
        case sourceChanged
        case tarballMalformed
        case imageExists
        case imageDirectoryMissing
        case imageDirectoryNotWritable
        case noSpace
        case writeFailed
        case unsupportedCompression
        case imageUnreadable
        case imageCorrupt
        case imageDiffers
        case deleteFailed
        case notRoot
        case kernelLacksSupport
        case mountFailed
        case mountPointOccupied
        case mountBusy
        case kernelVersionUnknown
        case pathRefused
        case buildFailed
        /// Another ksqsh kept the kernel version's lock past the wait, or the
        /// lock file cannot be created.
        case kernelLocked
        /// A hook setting (ksqsh.conf or a KSQSH_* variable) has a value
        /// ksqsh does not accept.
        case settingInvalid
        /// A build dir without the finished build (or the installed
        /// modules) an operation on it needs.
        case buildIncomplete
        case internalError
    }

    public let kind: Kind
    public let path: FilePath?
    public let message: String
    public let errno: Errno?

    public init(_ kind: Kind, path: FilePath? = nil, _ message: String, errno: Errno? = nil) {
        self.kind = kind
        self.path = path
        self.message = message
        self.errno = errno
    }

    /// One line: "PATH: what happened (errno text)". The path is escaped
    /// (`DisplayedText`) so no name can break the line or lose its bytes.
    public var description: String {
        var line = ""
        if let path { line += "\(path.displayed): " }
        line += message
        if let errno { line += " (\(errno.description))" }
        return line
    }

    /// The process exit status for this kind of failure. 64 is left to usage
    /// errors (swift-argument-parser), 1 to anything unforeseen. Never 126 or
    /// 127: the generated hooks read those as "ksqsh could not start".
    public var exitStatus: Int32 {
        switch kind {
        case .sourceMissing: 10
        case .sourceNotDirectory: 11
        case .sourceUnreadable: 12
        case .sourceChanged: 13
        case .tarballMalformed: 14
        case .imageExists: 20
        case .imageDirectoryMissing: 21
        case .imageDirectoryNotWritable: 22
        case .noSpace: 23
        case .writeFailed: 24
        case .unsupportedCompression: 30
        case .imageUnreadable: 40
        case .imageCorrupt: 41
        case .imageDiffers: 42
        case .deleteFailed: 50
        case .notRoot: 60
        case .kernelLacksSupport: 61
        case .mountFailed: 62
        case .mountPointOccupied: 63
        case .mountBusy: 65
        case .kernelVersionUnknown: 66
        case .pathRefused: 67
        case .buildFailed: 68
        case .kernelLocked: 69
        case .internalError: 70
        case .settingInvalid: 71
        case .buildIncomplete: 72
        }
    }
}
