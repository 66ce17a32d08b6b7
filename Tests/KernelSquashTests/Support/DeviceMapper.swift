import Glibc

/// An ext4 filesystem on a device-mapper device whose table maps the first
/// data block of one file to the `error` target: every read of that block
/// fails with EIO in the kernel, as a failing disk would.
enum DeviceMapper {
    /// dmsetup, the kernel's device-mapper, and the ext4 tools are all here.
    static let isAvailable: Bool = {
        guard geteuid() == 0, ["dmsetup", "mkfs.ext4", "debugfs", "losetup"].allSatisfy(Subprocess.isInstalled) else { return false }
        return (try? Subprocess.run("dmsetup", ["version"], timeout: .seconds(10)))?.succeeded == true
    }()

    struct FailingFileSystem {
        let mountPoint: ByteString
        let deviceName: ByteString
        let loopDevice: ByteString

        /// Unmounts, removes the dm device and detaches the loop device. Never throws.
        func tearDown() {
            Mounts.unmount(mountPoint)
            _ = try? Subprocess.run("dmsetup", ["remove", "--retry", deviceName], timeout: .seconds(30))
            _ = try? Subprocess.run("losetup", ["-d", loopDevice], timeout: .seconds(30))
        }
    }

    private static let size = 16 << 20

    /// Builds the filesystem in `work` holding `name` (64 KiB) and a readable
    /// neighbour, and mounts it read-only at work/"dm-source".
    static func fileSystemWithFailingFile(in work: Workspace, name: ByteString) throws -> FailingFileSystem {
        let backing = work["ext4.img"]
        try FS.writeSparseFile(backing, size: size, chunks: [])
        try Subprocess.runChecked("mkfs.ext4", ["-q", "-F", "-b", "4096", "-O", "^has_journal", backing])
        let staging = work["ext4-staging"]
        try FS.mkdir(staging)
        try Mounts.with(["-o", "loop", backing], at: staging) {
            try FS.writeFile(staging / "readable", Array("fine\n".utf8))
            try FS.writeFile(staging / name, Content.random(64 << 10, seed: 4242))
        }
        let bmap = try Subprocess.runChecked("debugfs", ["-R", "bmap /" + name + " 0", backing]).stdoutText
        guard let block = Int(bmap.trimmingCharacters(in: " \n")), block > 0 else {
            throw TestSetupError("debugfs gave no block for \(name): \(bmap)")
        }
        let loop = ByteString(try Subprocess.runChecked("losetup", ["-f", "--show", backing]).stdoutText.trimmingCharacters(in: " \n"))
        let deviceName = ByteString("ksqsh-test-\(getpid())")
        let sectors = size / 512
        let first = block * 8
        let table = """
            0 \(first) linear \(loop) 0
            \(first) 8 error
            \(first + 8) \(sectors - first - 8) linear \(loop) \(first + 8)

            """
        try FS.writeFile(work["dm-table"], Array(table.utf8))
        let created = try Subprocess.run("dmsetup", ["create", deviceName, work["dm-table"]], timeout: .seconds(30))
        guard created.succeeded else {
            _ = try? Subprocess.run("losetup", ["-d", loop])
            throw TestSetupError("dmsetup create failed: \(created)")
        }
        let filesystem = FailingFileSystem(mountPoint: work["dm-source"], deviceName: deviceName, loopDevice: loop)
        do {
            try FS.mkdir(filesystem.mountPoint)
            try Subprocess.runChecked("mount", ["-o", "ro", "/dev/mapper/" + deviceName, filesystem.mountPoint])
        } catch {
            filesystem.tearDown()
            throw error
        }
        return filesystem
    }
}
