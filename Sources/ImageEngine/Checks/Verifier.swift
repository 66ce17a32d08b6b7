import CSquashFS
import SystemPackage
import SquashFSFormat
import SystemSupport

/// How `ksqsh verify` and `ksqsh squash --verify` compare.
public struct VerifyOptions: Sendable {
    /// Expect the source's owners instead of root:root.
    public var keepOwner = false
    public var jobs = Processors.available
    /// The source is what is left of the tree after an interrupted
    /// `--delete-source`: entries it lacks are fine (they were deleted), and
    /// directory mtimes are not compared (deleting changed them). Everything
    /// the source still holds must be in the image and equal to it.
    public var sourceMayLackEntries = false

    public init() {}
}

public struct VerifyReport: Sendable {
    public var entries = 0
    public var files = 0
    public var bytes: UInt64 = 0
}

/// Reads an image back through libsquashfs and proves it complete: every
/// directory, inode and data block decodes, and — given the source tree —
/// every entry matches it in type, mode, mtime, owner, symlink target,
/// device, hard links and every byte of content, with nothing missing or extra.
public enum Verifier {
    /// How many differences a report lists before summarising the rest.
    static let reportLimit = 20

    public static func verify(image path: FilePath, against source: SourceTree?, options: VerifyOptions) throws -> VerifyReport {
        try ImageCheck.withImage(path) { descriptor in
            try verify(image: descriptor, path: path, against: source, options: options)
        }
    }

    static func verify(image descriptor: FileDescriptor, path: FilePath, against source: SourceTree?, options: VerifyOptions) throws -> VerifyReport {
        let image = try ImageReader(descriptor: descriptor, path: path)
        var comparison = TreeComparison(keepOwner: options.keepOwner, sourceMayLackEntries: options.sourceMayLackEntries)
        let rootEntry = ImageEntry(node: image.root)
        if let source {
            comparison.compare(rootEntry, source.root)
        } else {
            comparison.collect(rootEntry)
        }
        try comparison.throwIfDifferent(image: path, source: source?.path)

        let contents = ContentCheck(image: image, tree: source, files: comparison.files, jobs: options.jobs)
        try contents.run()
        return VerifyReport(entries: comparison.entries, files: comparison.files.count, bytes: contents.bytesChecked)
    }
}

/// One regular file whose content is to be checked.
struct FileToCheck {
    let image: ImageEntry
    let source: TreeNode?
    let path: String
}

/// Walks the image tree beside the source tree and notes every difference
/// in the entries themselves (content is checked separately, in parallel).
struct TreeComparison {
    let keepOwner: Bool
    /// See `VerifyOptions.sourceMayLackEntries`.
    let sourceMayLackEntries: Bool
    private(set) var differences = DifferenceList()
    private(set) var files: [FileToCheck] = []
    private(set) var entries = 0
    /// Source hard-link group ↔ image inode number, both ways.
    private var imageInodeOfGroup: [ObjectIdentifier: UInt32] = [:]
    private var groupOfImageInode: [UInt32: ObjectIdentifier] = [:]
    private var seenInodes: Set<UInt32> = []

    init(keepOwner: Bool, sourceMayLackEntries: Bool = false) {
        self.keepOwner = keepOwner
        self.sourceMayLackEntries = sourceMayLackEntries
    }

    mutating func note(_ path: String, _ what: String) { differences.note(path, what) }

    func throwIfDifferent(image: FilePath, source: FilePath?) throws {
        guard !differences.isEmpty else { return }
        let headline = source.map { "differs from \($0) in \(differences.counted("place"))" } ?? "is damaged in \(differences.counted("place"))"
        throw KsqshError(source == nil ? .imageCorrupt : .imageDiffers, path: image, differences.report(headline))
    }

    /// Without a source: only checks the image's own consistency.
    mutating func collect(_ entry: ImageEntry, path: String = ".") {
        entries += 1
        guard let kind = entry.kind else { return note(path, "inode of unknown type \(entry.inode.pointee.base.type)") }
        if kind == .regular, seenInodes.insert(entry.inodeNumber).inserted {
            files.append(FileToCheck(image: entry, source: nil, path: path))
        }
        if kind == .directory {
            let children = checkedChildren(of: entry, path: path)
            for child in children { collect(child, path: join(path, child.name)) }
        }
    }

    mutating func compare(_ entry: ImageEntry, _ node: TreeNode, path: String = ".") {
        entries += 1
        guard let kind = entry.kind else { return note(path, "inode of unknown type \(entry.inode.pointee.base.type)") }
        guard kind == node.kind else { return note(path, "is a \(kind) in the image but a \(node.kind) in the source") }
        if entry.permissions != node.permissions {
            note(path, "mode is \(String(entry.permissions, radix: 8)) in the image, \(String(node.permissions, radix: 8)) in the source")
        }
        if entry.mtime != node.mtime, !(sourceMayLackEntries && kind == .directory) { note(path, "mtime is \(entry.mtime) in the image, \(node.mtime) in the source") }
        let owner = keepOwner ? (node.uid, node.gid) : (0, 0)
        if entry.uid != owner.0 || entry.gid != owner.1 {
            note(path, "owner is \(entry.uid):\(entry.gid) in the image, expected \(owner.0):\(owner.1)")
        }
        checkHardLinks(entry, node, path: path)

        switch kind {
        case .directory:
            compareChildren(of: entry, node, path: path)
        case .regular:
            if entry.fileSize != node.size {
                note(path, "size is \(entry.fileSize) in the image, \(node.size) in the source")
            } else if node.hardLinkLeader == nil {
                files.append(FileToCheck(image: entry, source: node, path: path))
            }
        case .symlink:
            if entry.symlinkTarget != node.symlinkTarget {
                note(path, "symlink points to \(String(decoding: entry.symlinkTarget, as: UTF8.self)) in the image, \(String(decoding: node.symlinkTarget, as: UTF8.self)) in the source")
            }
        case .characterDevice, .blockDevice:
            if entry.device != node.device {
                note(path, "device is \(entry.device.major):\(entry.device.minor) in the image, \(node.device.major):\(node.device.minor) in the source")
            }
        case .fifo, .socket:
            break
        }
    }

    private mutating func checkHardLinks(_ entry: ImageEntry, _ node: TreeNode, path: String) {
        let group = ObjectIdentifier(node.hardLinkLeader ?? node)
        let number = entry.inodeNumber
        if let known = imageInodeOfGroup[group], known != number {
            note(path, "is a hard link in the source but a separate file in the image")
        } else if let owner = groupOfImageInode[number], owner != group {
            note(path, "shares inode \(number) in the image with an unrelated entry")
        }
        imageInodeOfGroup[group] = number
        groupOfImageInode[number] = group
    }

    private mutating func compareChildren(of entry: ImageEntry, _ node: TreeNode, path: String) {
        let imageChildren = checkedChildren(of: entry, path: path)
        var i = 0
        var j = 0
        while i < imageChildren.count || j < node.children.count {
            let imageName = i < imageChildren.count ? imageChildren[i].name : nil
            let sourceName = j < node.children.count ? node.children[j].name : nil
            if let imageName, let sourceName, imageName == sourceName {
                compare(imageChildren[i], node.children[j], path: join(path, imageName))
                i += 1
                j += 1
            } else if let imageName, sourceName == nil || imageName.lexicographicallyPrecedes(sourceName!) {
                if !sourceMayLackEntries { note(join(path, imageName), "is in the image but not in the source") }
                i += 1
            } else if let sourceName {
                note(join(path, sourceName), "is missing from the image")
                j += 1
            }
        }
    }

    /// The kernel finds names by binary search: a listing out of byte order
    /// or with duplicates is unusable even if every entry is intact.
    private mutating func checkedChildren(of entry: ImageEntry, path: String) -> [ImageEntry] {
        let children = entry.children
        for (previous, next) in zip(children, children.dropFirst()) where !previous.name.lexicographicallyPrecedes(next.name) {
            note(path, "directory listing is out of order at \(String(decoding: next.name, as: UTF8.self))")
        }
        return children
    }

    private func join(_ path: String, _ name: [UInt8]) -> String {
        let text = String(decoding: name, as: UTF8.self)
        return path == "." ? text : path + "/" + text
    }
}
