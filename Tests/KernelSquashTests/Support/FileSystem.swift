import Glibc

/// A failed system call or helper step, with the path and errno text.
struct TestSetupError: Error, CustomStringConvertible {
    let description: String

    init(_ message: String) { description = message }

    /// "call(path): strerror(errno)" for the current errno.
    static func syscall(_ name: String, _ path: ByteString, errno code: Int32 = errno) -> TestSetupError {
        TestSetupError("\(name)(\(path)): \(String(cString: strerror(code)))")
    }
}

/// Thin wrappers around the syscalls the fixture and manifest need, all on
/// raw byte paths (never `String` paths), so any name the kernel accepts works.
enum FS {
    static func mkdir(_ path: ByteString, mode: mode_t = 0o755) throws {
        guard path.withCString({ Glibc.mkdir($0, mode) }) == 0 else { throw TestSetupError.syscall("mkdir", path) }
    }

    /// mkdir -p.
    static func mkdirs(_ path: ByteString) throws {
        if exists(path) { return }
        let parent = path.parent
        if parent != path, parent != ".", parent != "/" { try mkdirs(parent) }
        try mkdir(path)
    }

    /// Creates (or truncates) a regular file holding `contents`.
    static func writeFile(_ path: ByteString, _ contents: [UInt8], mode: mode_t = 0o644) throws {
        let fd = path.withCString { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
        guard fd >= 0 else { throw TestSetupError.syscall("open", path) }
        defer { close(fd) }
        try writeAll(fd, contents, path: path)
    }

    static func writeAll(_ fd: Int32, _ contents: [UInt8], path: ByteString) throws {
        try contents.withUnsafeBytes { raw in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw TestSetupError.syscall("write", path)
                }
                done += n
            }
        }
    }

    /// A sparse file: `ftruncate` to `size`, then `pwrite` each chunk at its offset.
    static func writeSparseFile(_ path: ByteString, size: Int, chunks: [(offset: Int, bytes: [UInt8])]) throws {
        let fd = path.withCString { open($0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw TestSetupError.syscall("open", path) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else { throw TestSetupError.syscall("ftruncate", path) }
        for chunk in chunks {
            let written = chunk.bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, off_t(chunk.offset)) }
            guard written == chunk.bytes.count else { throw TestSetupError.syscall("pwrite", path) }
        }
    }

    static func readFile(_ path: ByteString) throws -> [UInt8] {
        let fd = path.withCString { open($0, O_RDONLY | O_CLOEXEC | O_NOFOLLOW) }
        guard fd >= 0 else { throw TestSetupError.syscall("open", path) }
        defer { close(fd) }
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TestSetupError.syscall("read", path)
            }
            if n == 0 { break }
            result += buffer[0..<n]
        }
        return result
    }

    static func symlink(target: ByteString, at path: ByteString) throws {
        let rc = target.withCString { t in path.withCString { p in Glibc.symlink(t, p) } }
        guard rc == 0 else { throw TestSetupError.syscall("symlink", path) }
    }

    static func link(existing: ByteString, new: ByteString) throws {
        let rc = existing.withCString { e in new.withCString { n in Glibc.link(e, n) } }
        guard rc == 0 else { throw TestSetupError.syscall("link", new) }
    }

    static func mkfifo(_ path: ByteString, mode: mode_t = 0o644) throws {
        guard path.withCString({ Glibc.mkfifo($0, mode) }) == 0 else { throw TestSetupError.syscall("mkfifo", path) }
    }

    /// `makedev` as glibc encodes it (the macro is not imported into Swift).
    static func makeDevice(major: UInt64, minor: UInt64) -> dev_t {
        dev_t(((major & 0xfff) << 8) | ((major & ~0xfff) << 32) | (minor & 0xff) | ((minor & ~0xff) << 12))
    }

    static func mknod(_ path: ByteString, type: mode_t, mode: mode_t, device: dev_t) throws {
        guard path.withCString({ Glibc.mknod($0, type | mode, device) }) == 0 else {
            throw TestSetupError.syscall("mknod", path)
        }
    }

    static func chmod(_ path: ByteString, _ mode: mode_t) throws {
        guard path.withCString({ Glibc.chmod($0, mode) }) == 0 else { throw TestSetupError.syscall("chmod", path) }
    }

    static func lchown(_ path: ByteString, uid: uid_t, gid: gid_t) throws {
        guard path.withCString({ Glibc.lchown($0, uid, gid) }) == 0 else { throw TestSetupError.syscall("lchown", path) }
    }

    /// Sets atime and mtime (whole seconds) without following a final symlink.
    static func setModificationTime(_ path: ByteString, seconds: Int) throws {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        let rc = path.withCString { p in times.withUnsafeMutableBufferPointer { utimensat(AT_FDCWD, p, $0.baseAddress!, AT_SYMLINK_NOFOLLOW) } }
        guard rc == 0 else { throw TestSetupError.syscall("utimensat", path) }
    }

    static func truncate(_ path: ByteString, size: Int) throws {
        guard path.withCString({ Glibc.truncate($0, off_t(size)) }) == 0 else { throw TestSetupError.syscall("truncate", path) }
    }

    static func unlink(_ path: ByteString) throws {
        guard path.withCString({ Glibc.unlink($0) }) == 0 else { throw TestSetupError.syscall("unlink", path) }
    }

    static func rename(_ from: ByteString, _ to: ByteString) throws {
        let rc = from.withCString { f in to.withCString { t in Glibc.rename(f, t) } }
        guard rc == 0 else { throw TestSetupError.syscall("rename", to) }
    }

    static func lstat(_ path: ByteString) throws -> stat {
        var st = stat()
        guard path.withCString({ Glibc.lstat($0, &st) }) == 0 else { throw TestSetupError.syscall("lstat", path) }
        return st
    }

    static func exists(_ path: ByteString) -> Bool {
        var st = stat()
        return path.withCString { Glibc.lstat($0, &st) } == 0
    }

    static func isDirectory(_ path: ByteString) -> Bool {
        guard let st = try? lstat(path) else { return false }
        return st.st_mode & mode_t(S_IFMT) == mode_t(S_IFDIR)
    }

    static func readlink(_ path: ByteString) throws -> ByteString {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = path.withCString { Glibc.readlink($0, &buffer, buffer.count) }
        guard n >= 0 else { throw TestSetupError.syscall("readlink", path) }
        return ByteString(buffer[0..<n].map { UInt8(bitPattern: $0) })
    }

    /// The names in a directory (without "." and ".."), raw, sorted by bytes:
    /// what `ls -A` shows.
    static func list(_ path: ByteString) throws -> [ByteString] {
        guard let dir = path.withCString({ opendir($0) }) else { throw TestSetupError.syscall("opendir", path) }
        defer { closedir(dir) }
        var names: [ByteString] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [UInt8] in
                let length = strnlen(raw.baseAddress!.assumingMemoryBound(to: CChar.self), raw.count)
                return Array(raw[0..<length])
            }
            if name == [0x2e] || name == [0x2e, 0x2e] { continue }
            names.append(ByteString(name))
        }
        return names.sorted()
    }

    /// `realpath`.
    static func realPath(_ path: ByteString) -> ByteString? {
        guard let resolved = path.withCString({ realpath($0, nil) }) else { return nil }
        defer { free(resolved) }
        return ByteString(Array(UnsafeBufferPointer(start: resolved, count: strlen(resolved)).map { UInt8(bitPattern: $0) }))
    }

    /// Size and free space of the file system holding `path`, in bytes.
    static func freeBytes(_ path: ByteString) throws -> (total: UInt64, free: UInt64) {
        var info = statvfs()
        guard path.withCString({ statvfs($0, &info) }) == 0 else { throw TestSetupError.syscall("statvfs", path) }
        return (UInt64(info.f_blocks) * UInt64(info.f_frsize), UInt64(info.f_bfree) * UInt64(info.f_frsize))
    }
}

/// A fresh directory under $TMPDIR (or /tmp) that the test removes when done.
/// Anything mounted below it must be unmounted first (see `Mounts`).
struct TemporaryDirectory: Sendable {
    let path: ByteString

    /// Where every test's scratch directory is made: TMPDIR, else /tmp.
    static var base: String { ProcessEnvironment.value("TMPDIR").flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp" }

    /// Whether `path` is in some test's scratch directory (this one's or a
    /// suite's running alongside: suites run in parallel).
    static func isScratch(_ path: ByteString) -> Bool {
        let prefix = ByteString(base) / "ksqsh-"
        return path.bytes.starts(with: prefix.bytes)
    }

    init(_ label: String = "test") throws {
        let base = Self.base
        var template = Array("\(base)/ksqsh-\(label).XXXXXX".utf8).map { CChar(bitPattern: $0) } + [0]
        guard mkdtemp(&template) != nil else { throw TestSetupError.syscall("mkdtemp", ByteString(base)) }
        path = ByteString(template.dropLast().map { UInt8(bitPattern: $0) })
    }

    subscript(_ name: ByteString) -> ByteString { path / name }

    /// `rm -rf --one-file-system`: never reaches into something still
    /// mounted below. (Undoing chattr +i is the caller's job.)
    func remove() {
        _ = try? Subprocess.run("rm", ["-rf", "--one-file-system", "--", path], timeout: .seconds(120))
    }
}

/// Reads the test process's own environment.
enum ProcessEnvironment {
    static func value(_ name: String) -> String? {
        guard let raw = getenv(name) else { return nil }
        return String(cString: raw)
    }

    /// All of it, as NAME=value pairs.
    static func all() -> [String: String] {
        var result: [String: String] = [:]
        var cursor = environ
        while let entry = cursor.pointee {
            let pair = String(cString: entry)
            if let equals = pair.firstIndex(of: "=") {
                result[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            cursor += 1
        }
        return result
    }

    static var isRoot: Bool { geteuid() == 0 }
}
