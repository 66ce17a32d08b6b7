import SystemPackage
import SystemSupport

/// The record that a source tree is being emptied against its verified
/// image: `.IMAGE.delete-source`, beside the image.
///
/// Beside the image, because that directory is writable wherever the image
/// could be written — in pre_src_install that is WORKDIR, the only place
/// portage's sandbox allows — and never inside the tree, which is what gets
/// deleted. The leading dot keeps it out of kernel-2's `"${WORKDIR}"/linux*`
/// copy into the package and out of `linux-*.sqfs` globs.
///
/// It is written (unnamed, then linked: complete or absent) before the
/// image gets its name and removed after the last entry is deleted, so a
/// process killed anywhere in between leaves it behind, and a rerun knows
/// the tree's missing entries are in the image rather than lost.
///
/// Text, one `key value` per line:
///
///     ksqsh delete-source 1
///     source-identity DEV:INODE
///     image-identity DEV:INODE
///     image-bytes N
///     keep-owner 0|1
///     source PATH
package struct DeletionMarker: Equatable {
    static let header = "ksqsh delete-source 1"

    /// The tree's top directory, which deletion keeps (device, inode).
    var sourceIdentity: FileIdentity
    var imageIdentity: FileIdentity
    var imageBytes: UInt64
    /// How the image recorded owners, so a resumed check compares the same way.
    var keepOwner: Bool
    /// As given on the first run, for messages only: identities decide.
    var source: String

    package static func path(beside image: FilePath) -> FilePath {
        image.removingLastComponent().appending(".\(image.lastComponent?.string ?? "image").delete-source")
    }

    /// Writes the marker; it must not exist yet.
    func write(beside image: FilePath) throws {
        let target = DeletionMarker.path(beside: image)
        do {
            let file = try AtomicImageFile(creating: target, force: false)
            try file.descriptor.writeAll(Array(text.utf8))
            try file.commit()
        } catch let error as KsqshError {
            throw KsqshError(error.kind, path: target, "cannot record that deleting the sources begins, so nothing was deleted: \(error.message)", errno: error.errno)
        } catch let errno as Errno {
            throw KsqshError(errno == .noSpace ? .noSpace : .writeFailed, path: target, "cannot record that deleting the sources begins, so nothing was deleted", errno: errno)
        }
    }

    /// The marker beside `image`, or nil when there is none.
    package static func read(beside image: FilePath) throws -> DeletionMarker? {
        let path = DeletionMarker.path(beside: image)
        guard let info = try? path.stat(followTargetSymlink: false) else { return nil }
        guard info.type == .regular, let marker = DeletionMarker(parsing: try readSmallFile(path, limit: 1 << 16)) else {
            throw KsqshError(
                .pathRefused, path: path,
                "is not a marker this ksqsh wrote; if no 'ksqsh squash --delete-source' into \(image.lastComponent!) was interrupted, remove it")
        }
        return marker
    }

    /// Removes the marker and makes the removal durable.
    static func remove(beside image: FilePath) throws {
        let path = DeletionMarker.path(beside: image)
        do {
            try path.unlink()
        } catch {
            guard error == .noSuchFileOrDirectory else {
                throw KsqshError(.deleteFailed, path: path, "cannot remove the marker of the finished deletion; remove it by hand", errno: error)
            }
        }
        syncDirectory(of: path)
    }

    /// Whether `image` is still the file this marker was written for.
    func describes(image: FilePath) -> Bool {
        guard let info = try? image.stat(followTargetSymlink: false), info.type == .regular else { return false }
        return FileIdentity(info) == imageIdentity && UInt64(info.size) == imageBytes
    }

    var text: String {
        [
            DeletionMarker.header,
            "source-identity \(sourceIdentity)",
            "image-identity \(imageIdentity)",
            "image-bytes \(imageBytes)",
            "keep-owner \(keepOwner ? 1 : 0)",
            "source \(source)",
        ].map { $0 + "\n" }.joined()
    }

    init(sourceIdentity: FileIdentity, imageIdentity: FileIdentity, imageBytes: UInt64, keepOwner: Bool, source: String) {
        self.sourceIdentity = sourceIdentity
        self.imageIdentity = imageIdentity
        self.imageBytes = imageBytes
        self.keepOwner = keepOwner
        self.source = source
    }

    init?(parsing text: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.first == Substring(DeletionMarker.header) else { return nil }
        if lines.last == "" { lines.removeLast() }
        var fields: [Substring: Substring] = [:]
        for line in lines.dropFirst() {
            guard let space = line.firstIndex(of: " ") else { return nil }
            fields[line[..<space]] = line[line.index(after: space)...]
        }
        guard let source = fields["source-identity"].flatMap(FileIdentity.init(text:)),
            let image = fields["image-identity"].flatMap(FileIdentity.init(text:)),
            let bytes = fields["image-bytes"].flatMap({ UInt64($0) }),
            let owner = fields["keep-owner"], owner == "0" || owner == "1",
            let path = fields["source"]
        else { return nil }
        self.init(sourceIdentity: source, imageIdentity: image, imageBytes: bytes, keepOwner: owner == "1", source: String(path))
    }
}

/// A file's device and inode number: what stays the same across renames
/// and links, and changes when a file is replaced.
struct FileIdentity: Equatable, CustomStringConvertible {
    var device: UInt64
    var inode: UInt64

    init(device: UInt64, inode: UInt64) {
        self.device = device
        self.inode = inode
    }

    init(_ info: Stat) { self.init(device: UInt64(info.deviceID.rawValue), inode: UInt64(info.inode.rawValue)) }

    /// The scanned entry `node` was made from.
    init(of node: TreeNode) { self.init(device: node.identity.device, inode: node.identity.inode) }

    init?(text: Substring) {
        let parts = text.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        self.init(device: device, inode: inode)
    }

    /// The file open on `descriptor`, which is to be named `path`.
    init(of descriptor: FileDescriptor, path: FilePath) throws {
        let info: Stat
        do {
            info = try descriptor.stat()
        } catch {
            throw KsqshError(.writeFailed, path: path, "cannot stat the image just written", errno: error)
        }
        self.init(info)
    }

    var description: String { "\(device):\(inode)" }
}
