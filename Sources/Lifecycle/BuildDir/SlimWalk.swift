import Glibc
import SystemPackage
import SystemSupport

/// Space on disk: allocated bytes (what a small flash disk runs out of) and
/// inodes (what a small filesystem runs out of).
public struct DiskUsage: Sendable, Equatable {
    public var bytes: UInt64 = 0
    public var inodes = 0

    public init(bytes: UInt64 = 0, inodes: Int = 0) {
        self.bytes = bytes
        self.inodes = inodes
    }

    mutating func add(_ info: Stat) {
        bytes += UInt64(max(0, info.blocksAllocated)) * 512
        inodes += 1
    }
}

/// One pass over a build dir that applies `SlimSelection`: measures what is
/// there, and removes (or with `pretend`, only counts) what is not kept.
/// Every step is relative to an open directory descriptor; symlinks are
/// removed, never followed; a filesystem mounted inside is refused.
struct SlimWalk {
    let pretend: Bool
    private(set) var before = DiskUsage()
    private(set) var removed = DiskUsage()

    init(pretend: Bool) { self.pretend = pretend }

    mutating func run(_ directory: FilePath) throws {
        let info: Stat
        let descriptor: FileDescriptor
        do {
            info = try directory.stat(followTargetSymlink: false)
            descriptor = try FileDescriptor.openDirectory(directory, followingSymlinks: false)
        } catch {
            throw KsqshError(.sourceUnreadable, path: directory, "cannot open the build dir", errno: error)
        }
        defer { try? descriptor.close() }
        before.add(info)
        _ = try walk(descriptor, path: directory, relative: [], device: info.deviceID)
    }

    /// Returns whether the directory is empty once done (counting what
    /// `pretend` only pretends to remove) and whether anything in it went.
    private mutating func walk(_ descriptor: FileDescriptor, path: FilePath, relative: [String], device: DeviceID) throws -> (empty: Bool, changed: Bool) {
        var empty = true
        var changed = false
        for name in try names(in: descriptor, path: path) {
            let text = String(decoding: name, as: UTF8.self)
            let child = path.appending(text)
            let childRelative = relative + [text]
            guard let info = try? Stat(name.cString, relativeTo: descriptor, flags: .symlinkNoFollow) else { continue }
            before.add(info)
            let goes: Bool
            if info.type == .directory {
                guard info.deviceID == device else {
                    throw KsqshError(.pathRefused, path: child, "is another filesystem mounted inside the build dir; unmount it first")
                }
                let inner = try walkDirectory(named: name, in: descriptor, path: child, relative: childRelative, device: device)
                goes = inner.empty && (inner.changed || !SlimSelection.keepsDirectory(childRelative))
            } else {
                goes = !SlimSelection.keepsFile(childRelative)
            }
            guard goes else {
                empty = false
                continue
            }
            removed.add(info)
            changed = true
            if pretend { continue }
            do {
                try descriptor.removeEntry(name.cString, isDirectory: info.type == .directory)
            } catch {
                throw KsqshError(.deleteFailed, path: child, "cannot remove", errno: error)
            }
        }
        return (empty, changed)
    }

    private mutating func walkDirectory(named name: [UInt8], in parent: FileDescriptor, path: FilePath, relative: [String], device: DeviceID) throws -> (empty: Bool, changed: Bool) {
        let descriptor: FileDescriptor
        do {
            descriptor = try parent.openEntry(name.cString, .readOnly, options: [.directory, .noFollow, .closeOnExec])
        } catch {
            throw KsqshError(.sourceUnreadable, path: path, "cannot open", errno: error)
        }
        defer { try? descriptor.close() }
        return try walk(descriptor, path: path, relative: relative, device: device)
    }

    /// The names are read in full before any is removed: readdir's position
    /// is undefined across removals.
    private func names(in descriptor: FileDescriptor, path: FilePath) throws -> [[UInt8]] {
        guard let stream = fdopendir(dup(descriptor.rawValue)) else {
            throw KsqshError(.sourceUnreadable, path: path, "cannot list", errno: .current)
        }
        defer { closedir(stream) }
        var names: [[UInt8]] = []
        while let entry = readdir(stream) {
            let name = entryName(entry)
            if !isDotOrDotDot(name) { names.append(name) }
        }
        return names
    }
}
