import Glibc

/// A real kernel source skeleton: the parts of Debian's linux-source-6.12
/// that `make O=… defconfig` / `olddefconfig` (and, for `.modules`,
/// `make modules_prepare`) read, and nothing else.
///
/// The tree is cut once per machine and cached under
/// /var/cache/ksqsh/test-skeleton/; its squashfs image is made once per
/// ksqsh binary (the cache key is the binary's size, mtime and inode) with
/// `ksqsh squash SKEL IMAGE --quiet`, and each test copies it into its ROOT.
enum KernelSkeleton: String, Sendable, CaseIterable {
    /// Every Kconfig*, Makefile*, Kbuild*, all of scripts/ and the x86
    /// defconfigs: enough for defconfig and olddefconfig (~25 MB, 5,500 files).
    case kconfig
    /// Also include/, arch/x86/include, the syscall tables, asm-offsets,
    /// bounds.c and the tools/ parts objtool builds from: enough for
    /// `make modules_prepare` (~72 MB, 12,700 files).
    case modules

    /// Bump when the selection changes: the cached tree is then cut again.
    static let selectionVersion = 1

    static let cacheDirectory: ByteString = "/var/cache/ksqsh/test-skeleton"
    static let unpackedSource: ByteString = "/var/cache/ksqsh/linux-source-6.12"
    /// Written by `make kernel-tree` once the unpacked source is complete.
    static let unpackedMarker: ByteString = "/var/cache/ksqsh/.unpacked"
    static let tarball: ByteString = "/usr/src/linux-source-6.12.tar.xz"
    static let tarballTopDirectory: ByteString = "linux-source-6.12"

    /// Files whose name starts like this are taken wherever they are.
    private static let namePrefixes = ["Kconfig", "Makefile", "Kbuild"]

    /// Whole directories, relative to the top of the source.
    private var directories: [String] {
        let kconfig = ["scripts", "arch/x86/configs"]
        switch self {
        case .kconfig:
            return kconfig
        case .modules:
            return kconfig + [
                "include", "arch/x86/include", "arch/x86/entry/syscalls", "arch/x86/tools",
                "tools/include", "tools/lib", "tools/arch/x86", "tools/objtool", "tools/build", "tools/scripts",
                "security/selinux/include",
            ]
        }
    }

    /// Single files, relative to the top of the source.
    private var files: [String] {
        switch self {
        case .kconfig:
            return []
        case .modules:
            return [
                "arch/x86/kernel/asm-offsets.c", "arch/x86/kernel/asm-offsets_32.c", "arch/x86/kernel/asm-offsets_64.c",
                "arch/x86/lib/inat.c", "arch/x86/lib/insn.c", "arch/x86/lib/x86-opcode-map.txt",
                "kernel/bounds.c", "kernel/time/timeconst.bc",
            ]
        }
    }

    private func selects(_ relative: String) -> Bool {
        let name = relative.split(separator: "/").last.map(String.init) ?? relative
        if Self.namePrefixes.contains(where: { name.hasPrefix($0) }) { return true }
        if files.contains(relative) { return true }
        return directories.contains { relative.hasPrefix($0 + "/") }
    }

    /// The same selection as tar member patterns (`--wildcards`, where `*`
    /// also matches "/").
    private var tarPatterns: [ByteString] {
        let top = Self.tarballTopDirectory.string
        return Self.namePrefixes.map { ByteString("*/\($0)*") }
            + directories.map { ByteString("\(top)/\($0)/*") }
            + files.map { ByteString("\(top)/\($0)") }
    }

    // MARK: - The cached tree

    /// The skeleton directory, cut on first use and kept across runs.
    func tree() throws -> ByteString {
        try (self == .kconfig ? Self.kconfigTree : Self.modulesTree).get()
    }

    private static let kconfigTree = Result { () throws(TestSetupError) -> ByteString in try KernelSkeleton.kconfig.cachedTree() }
    private static let modulesTree = Result { () throws(TestSetupError) -> ByteString in try KernelSkeleton.modules.cachedTree() }

    private var cachedTreePath: ByteString { Self.cacheDirectory / ByteString("\(rawValue)-v\(Self.selectionVersion)") }

    private func cachedTree() throws(TestSetupError) -> ByteString {
        let final = cachedTreePath
        if FS.isDirectory(final) { return final }
        do {
            try FS.mkdirs(Self.cacheDirectory)
            // Cut into a private staging dir, then rename: the final name only
            // ever holds a complete tree, even if two test runs race.
            let staging = try Self.makeStagingDirectory()
            defer { _ = try? Subprocess.run("rm", ["-rf", "--one-file-system", "--", staging], timeout: .seconds(300)) }
            let cut: ByteString
            if FS.exists(Self.unpackedMarker), FS.isDirectory(Self.unpackedSource) {
                cut = try cutFromUnpackedSource(into: staging)
            } else if FS.exists(Self.tarball) {
                cut = try cutFromTarball(into: staging)
            } else {
                throw TestSetupError(
                    "no kernel source for the skeleton: neither \(Self.unpackedSource) (make kernel-tree) nor \(Self.tarball) (apt-get install linux-source-6.12)")
            }
            guard FS.exists(cut / "Makefile"), FS.exists(cut / "Kconfig"), FS.exists(cut / "scripts/kconfig/conf.c") else {
                throw TestSetupError("the skeleton cut from the kernel source at \(cut) lacks Makefile, Kconfig or scripts/kconfig")
            }
            let renamed = cut.withCString { from in final.withCString { to in Glibc.rename(from, to) } }
            if renamed != 0, !FS.isDirectory(final) { throw TestSetupError.syscall("rename", final) }
            return final
        } catch let error as TestSetupError {
            throw error
        } catch {
            throw TestSetupError("cannot build the kernel skeleton \(final): \(error)")
        }
    }

    private static func makeStagingDirectory() throws -> ByteString {
        var template = Array((cacheDirectory / ".staging.XXXXXX").bytes).map { CChar(bitPattern: $0) } + [0]
        guard mkdtemp(&template) != nil else { throw TestSetupError.syscall("mkdtemp", cacheDirectory) }
        return ByteString(template.dropLast().map { UInt8(bitPattern: $0) })
    }

    /// Lists the selected files of the unpacked tree and copies them with tar
    /// (symlinks stay symlinks).
    private func cutFromUnpackedSource(into staging: ByteString) throws -> ByteString {
        var selected: [String] = []
        try Self.walk(Self.unpackedSource, relative: "") { relative in
            if selects(relative) { selected.append(relative) }
        }
        let list = staging / "files.list"
        try FS.writeFile(list, Array(selected.sorted().joined(separator: "\n").utf8) + [0x0a])
        let archive = staging / "skeleton.tar"
        try Subprocess.runChecked(
            "tar", ["-C", Self.unpackedSource, "-cf", archive, "--no-recursion", "--verbatim-files-from", "-T", list],
            timeout: .seconds(300))
        let tree = staging / "tree"
        try FS.mkdir(tree)
        try Subprocess.runChecked("tar", ["-xf", archive, "-C", tree], timeout: .seconds(300))
        return tree
    }

    /// Extracts only the selected members of the tarball (one pass of xz, ~10 s).
    private func cutFromTarball(into staging: ByteString) throws -> ByteString {
        try Subprocess.runChecked(
            "tar", ["-xf", Self.tarball, "-C", staging, "--wildcards"] + tarPatterns, timeout: .seconds(600))
        return staging / Self.tarballTopDirectory
    }

    /// Calls `body` with the relative path of every non-directory below `directory`.
    private static func walk(_ directory: ByteString, relative: String, _ body: (String) -> Void) throws {
        for name in try FS.list(directory) {
            let path = directory / name
            let child = relative.isEmpty ? name.string : relative + "/" + name.string
            if FS.isDirectory(path) {
                try walk(path, relative: child, body)
            } else {
                body(child)
            }
        }
    }

    // MARK: - The image

    /// The skeleton squashed by the ksqsh under test; made once per binary.
    func image() throws -> ByteString {
        try (self == .kconfig ? Self.kconfigImage : Self.modulesImage).get()
    }

    private static let kconfigImage = Result { () throws(TestSetupError) -> ByteString in try KernelSkeleton.kconfig.cachedImage() }
    private static let modulesImage = Result { () throws(TestSetupError) -> ByteString in try KernelSkeleton.modules.cachedImage() }

    private func cachedImage() throws(TestSetupError) -> ByteString {
        do {
            let source = try tree()
            let binary = try Ksqsh.binary()
            let resolved = FS.realPath(binary) ?? binary
            let st = try FS.lstat(resolved)
            let key = "\(st.st_size)-\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)-\(st.st_ino)"
            let directory = Self.cacheDirectory / "images"
            try FS.mkdirs(directory)
            let prefix = "\(rawValue)-v\(Self.selectionVersion)-"
            let image = directory / ByteString("\(prefix)\(key).sqfs")
            if FS.exists(image) { return image }
            // Images of older binaries are of no use any more, once a day has
            // passed: until then they may belong to another checkout's binary
            // whose tests are running right now.
            let dayAgo = time(nil) - 86_400
            for name in try FS.list(directory) where name.string.hasPrefix(prefix) {
                if let old = try? FS.lstat(directory / name), old.st_mtim.tv_sec < dayAgo { try? FS.unlink(directory / name) }
            }
            let staging = try Self.makeStagingDirectory()
            defer { _ = try? Subprocess.run("rm", ["-rf", "--", staging], timeout: .seconds(60)) }
            let fresh = staging / "linux.sqfs"
            try Ksqsh.squashChecked(source, fresh, timeout: .seconds(300))
            try FS.rename(fresh, image)
            return image
        } catch let error as TestSetupError {
            throw error
        } catch {
            throw TestSetupError("cannot squash the kernel skeleton: \(error)")
        }
    }
}
