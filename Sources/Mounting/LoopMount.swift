import CMount
import Glibc
import SystemPackage
import SystemSupport

/// Read-only loop mounts of squashfs images through libmount (not mount(8)).
public enum LoopMount {
    public enum Outcome: Sendable, Equatable {
        case mounted
        case alreadyMounted
    }

    /// The options every image is mounted with; the loop device is freed
    /// automatically on unmount (libmount sets LO_FLAGS_AUTOCLEAR).
    public static let options = "loop,ro,nodev,nosuid"

    /// Mounts `image` at `target` (creating `target` if missing). Mounting
    /// the same image again succeeds without doing anything; anything else
    /// already at `target` is an error, because a second mount would hide it.
    ///
    /// `check` runs once the image is known readable and before anything is
    /// created: the caller's test that the image is sound (mounting knows
    /// nothing of the squashfs format). A throw leaves nothing mounted.
    @discardableResult
    public static func mount(image: FilePath, at target: FilePath, checkingFirst check: (FilePath) throws -> Void = { _ in }) throws -> Outcome {
        if let existing = try MountTable.current().mount(at: target) {
            if isBacked(existing, by: image) { return .alreadyMounted }
            throw KsqshError(
                .mountPointOccupied, path: target,
                "\(existing.source) (\(existing.fileSystem)) is already mounted here; unmount it first (ksqsh umount, or umount \(target))")
        }
        try MountEnvironment.requireRoot(to: "mount \(image)")
        do {
            try image.checkAccess(.readable)
        } catch {
            throw KsqshError(.mountFailed, path: image, "image does not exist or is not readable", errno: error)
        }
        try check(image)
        let created = try createMountPoint(target)

        guard let context = mnt_new_context() else { throw KsqshError(.internalError, "cannot create a libmount context (out of memory)") }
        defer { mnt_free_context(context) }
        mnt_context_set_fstype(context, "squashfs")
        mnt_context_set_options(context, options)
        // Raw bytes: libmount copies them, and they reach mount(2) as given.
        _ = image.withPlatformString { mnt_context_set_source(context, $0) }
        _ = target.withPlatformString { mnt_context_set_target(context, $0) }
        let status = mnt_context_mount(context)
        if status != 0 || mnt_context_get_status(context) != 1 {
            if created { try? target.removeDirectory() }
            throw mountError(context: context, status: status, image: image, target: target)
        }
        return .mounted
    }

    /// Unmounts whatever is at `target`. Not mounted: nothing to do.
    /// Busy: the error names the processes holding it; `lazy` detaches anyway.
    @discardableResult
    public static func unmount(_ target: FilePath, lazy: Bool = false) throws -> Bool {
        guard try MountTable.current().mount(at: target) != nil else { return false }
        try MountEnvironment.requireRoot(to: "unmount \(target)")
        guard let context = mnt_new_context() else { throw KsqshError(.internalError, "cannot create a libmount context (out of memory)") }
        defer { mnt_free_context(context) }
        mnt_context_set_target(context, canonicalPath(target).string)
        if lazy { mnt_context_enable_lazy(context, 1) }
        let status = mnt_context_umount(context)
        guard status == 0 else {
            let code = mnt_context_syscall_called(context) == 1 ? mnt_context_get_syscall_errno(context) : 0
            if code == EBUSY {
                let holders = BusyProcesses.holding(target)
                let who = holders.isEmpty ? "" : ": used by " + holders.map(\.description).joined(separator: ", ")
                throw KsqshError(.mountBusy, path: target, "cannot unmount, it is busy\(who); close those or use --lazy")
            }
            throw KsqshError(.mountFailed, path: target, "cannot unmount: \(message(of: context, status: status))")
        }
        return true
    }

    /// Whether a mount is a loop device over exactly this image file.
    package static func isBacked(_ entry: MountEntry, by image: FilePath) -> Bool {
        guard entry.fileSystem == "squashfs", let backing = entry.loopBackingFile else { return false }
        return FilePath(backing) == canonicalPath(image)
    }

    /// The same, or over this image after it was deleted or replaced while
    /// mounted (portage's unmerge, a reinstall): the kernel then shows the
    /// old path with " (deleted)".
    package static func isBacked(_ entry: MountEntry, byCurrentOrFormer image: FilePath) -> Bool {
        if isBacked(entry, by: image) { return true }
        guard entry.fileSystem == "squashfs", let backing = entry.loopBackingFile, backing.hasSuffix(" (deleted)") else { return false }
        let directory = canonicalPath(image.removingLastComponent())
        return FilePath(String(backing.dropLast(" (deleted)".count))) == directory.appending(image.lastComponent!)
    }

    /// Returns whether it had to be created.
    private static func createMountPoint(_ target: FilePath) throws -> Bool {
        if let info = try? target.stat(followTargetSymlink: false) {
            guard info.type == .directory else {
                throw KsqshError(.pathRefused, path: target, "mount point exists but is not a directory (a symlink?); remove it or choose another")
            }
            return false
        }
        do {
            try target.makeDirectory()
        } catch {
            throw KsqshError(.mountFailed, path: target, "cannot create the mount point", errno: error)
        }
        return true
    }

    private static func mountError(context: OpaquePointer, status: Int32, image: FilePath, target: FilePath) -> KsqshError {
        let code = mnt_context_syscall_called(context) == 1 ? mnt_context_get_syscall_errno(context) : 0
        let text = message(of: context, status: status)
        if code == EINVAL || code == ENODEV || text.contains("wrong fs type") || text.contains("unknown filesystem type") {
            if !MountEnvironment.kernelSupports("squashfs") {
                return KsqshError(.kernelLacksSupport, path: image, "the kernel has no squashfs support; enable CONFIG_SQUASHFS (and the image's compressor)")
            }
            return KsqshError(.mountFailed, path: image, "the kernel cannot mount this image (\(text)); check it with ksqsh verify, and that the kernel supports its compressor")
        }
        if code == EPERM || code == EACCES {
            return KsqshError(.notRoot, path: target, "not permitted to mount; run as root")
        }
        if !MountEnvironment.hasLoopSupport {
            return KsqshError(.kernelLacksSupport, path: image, "no loop device support (/dev/loop-control missing); load the loop module (modprobe loop)")
        }
        return KsqshError(.mountFailed, path: target, "cannot mount \(image): \(text)")
    }

    /// libmount's own explanation of a failure.
    private static func message(of context: OpaquePointer, status: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: 512)
        mnt_context_get_excode(context, status, &buffer, buffer.count)
        let text = String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? "error \(status)" : text
    }
}
