import Glibc
import Testing

extension LifecycleTests {
    @Suite("ksqsh mount")
    struct Mount {
        let version = LifecycleRoot.version

        @Test("mounts read-only, nodev, nosuid through a loop device, creating the mount point; a second mount is a no-op")
        func mountsReadOnlyAndIsIdempotent() throws {
            let root = try LifecycleRoot("mount")
            defer { root.tearDown() }
            let image = try root.installImage()
            let mountPoint = root.mountPoint()
            #expect(!FS.exists(mountPoint), "precondition: no mount point yet")

            let first = try root.ksqsh("mount", kernel: version)
            expectCompleted(first, printing: ["\(mountPoint): mounted from \(image)"])
            #expect(FS.isDirectory(mountPoint), "the mount point is created")
            let stack = root.mounts(at: mountPoint)
            #expect(stack.count == 1, "exactly one mount at \(mountPoint): \(stack)")
            let entry = try #require(stack.last)
            #expect(entry.fileSystem == "squashfs")
            for option in ["ro", "nodev", "nosuid"] {
                #expect(entry.mountOptions.contains(option), "per-mount options should include \(option): \(entry)")
            }
            #expect(LoopDevices.backingFile(of: entry.source) == image, "the loop device is backed by the image: \(entry)")
            #expect(
                try FS.readFile(mountPoint / "Makefile") == FS.readFile(KernelSkeleton.kconfig.tree() / "Makefile"),
                "the mount shows the skeleton's files")

            let second = try root.ksqsh("mount", kernel: version)
            expectCompleted(second, printing: ["\(mountPoint): already mounted"])
            #expect(root.mounts(at: mountPoint).count == 1, "nothing is stacked on the first mount")
            #expect(LoopDevices.attached(to: image).count == 1, "no second loop device: \(LoopDevices.attached(to: image))")
        }

        @Test("versions whose names are prefixes of each other (6.12.1 and 6.12.10) are tracked independently")
        func prefixVersionsAreIndependent() throws {
            let root = try LifecycleRoot("prefix")
            defer { root.tearDown() }
            let short: ByteString = "6.12.1-gentoo"
            let long: ByteString = "6.12.10-gentoo"
            try root.installImage(short)
            try root.installImage(long)

            expectCompleted(try root.ksqsh("mount", kernel: short))
            #expect(root.isMounted(short))
            #expect(!root.isMounted(long))

            // 6.12.10 is not mounted, even though the mounted 6.12.1's path is a prefix of its name.
            expectCompleted(try root.ksqsh("umount", kernel: long), printing: ["\(root.mountPoint(long)): not mounted"])
            #expect(root.isMounted(short), "unmounting 6.12.10 must leave 6.12.1 mounted")
            let status = try StatusReport.decode(root.ksqsh("status", ["--json"]))
            #expect(status[short.string]?.mountPoint == "mounted")
            #expect(status[long.string]?.mountPoint != "mounted")

            let second = try root.ksqsh("mount", kernel: long)
            expectCompleted(second, printing: ["\(root.mountPoint(long)): mounted from \(root.image(long))"])
            #expect(root.isMounted(short) && root.isMounted(long))

            expectCompleted(try root.ksqsh("umount", kernel: short), printing: ["\(root.mountPoint(short)): unmounted"])
            #expect(!root.isMounted(short))
            #expect(!FS.exists(root.mountPoint(short)), "6.12.1's empty mount point is removed")
            #expect(root.isMounted(long), "unmounting 6.12.1 must leave 6.12.10 mounted")
        }

        /// Ways to damage an image so the kernel refuses it.
        enum Corruption: String, CaseIterable, Sendable {
            /// The magic "hsqs" at offset 0 overwritten.
            case magic
            /// block_log (offset 22) no longer matches block_size.
            case blockLog
            /// The whole first 4 KiB (super block and more) zeroed.
            case zeroedSuperBlock
            /// Cut to 64 KiB: bytes_used points past the end.
            case truncated
            /// An empty file.
            case empty

            func apply(to image: ByteString) throws {
                var bytes = try FS.readFile(image)
                switch self {
                case .magic: for index in 0..<4 { bytes[index] ^= 0xff }
                case .blockLog: bytes[22] ^= 0x07
                case .zeroedSuperBlock: for index in 0..<4096 { bytes[index] = 0 }
                case .truncated: bytes = Array(bytes.prefix(65536))
                case .empty: bytes = []
                }
                try FS.writeFile(image, bytes)
            }
        }

        @Test("a corrupted image fails with one line and status 62, and leaves no mount, no loop device, no mount point", arguments: Corruption.allCases)
        func corruptedImageFailsCleanly(_ corruption: Corruption) throws {
            let root = try LifecycleRoot("corrupt")
            defer { root.tearDown() }
            let image = try root.installImage()
            try corruption.apply(to: image)
            let before = try root.snapshot()

            let result = try root.ksqsh("mount", kernel: version)
            expectRefusal(result, exit: Ksqsh.Exit.mountFailed, naming: [image], in: root, before: before)
            #expect(root.mounts.isEmpty, "nothing may be mounted under ROOT: \(root.mounts)")
            #expect(LoopDevices.attached(to: image).isEmpty, "no loop device may stay attached: \(LoopDevices.attached(to: image))")
        }

        @Test("another filesystem on the mount point (a tmpfs) is refused with 63 and stays as it was")
        func refusesOccupiedMountPoint() throws {
            let root = try LifecycleRoot("occupied")
            defer { root.tearDown() }
            try root.installImage()
            let mountPoint = root.mountPoint()
            try FS.mkdir(mountPoint)
            try Subprocess.runChecked("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint])
            try FS.writeFile(mountPoint / "marker", Array("on the tmpfs\n".utf8))
            let before = try root.snapshot()

            let result = try root.ksqsh("mount", kernel: version)
            expectRefusal(result, exit: Ksqsh.Exit.mountPointOccupied, naming: [mountPoint], in: root, before: before)
            let stack = root.mounts(at: mountPoint)
            #expect(stack.map(\.fileSystem) == ["tmpfs"], "only the tmpfs is mounted there: \(stack)")
            #expect(try FS.readFile(mountPoint / "marker") == Array("on the tmpfs\n".utf8))
        }

        @Test("a non-empty unpacked tree at the mount point is refused with 63 and left untouched")
        func refusesUnpackedTree() throws {
            let root = try LifecycleRoot("unpacked")
            defer { root.tearDown() }
            try root.installImage()
            let mountPoint = root.mountPoint()
            try root.write(mountPoint / "Makefile", Array("# unpacked sources\n".utf8))
            try root.write(mountPoint / "drivers/net/Kconfig", Array("menu \"net\"\n".utf8))
            let tree = try Manifest.scan(mountPoint)
            let before = try root.snapshot()

            let result = try root.ksqsh("mount", kernel: version)
            expectRefusal(result, exit: Ksqsh.Exit.mountPointOccupied, naming: [mountPoint], in: root, before: before)
            expectUnchanged(mountPoint, before: tree)
            #expect(root.mounts.isEmpty)
        }

        @Test("a symlink at the mount point is refused (67), never followed: nothing is mounted on its target")
        func refusesSymlinkedMountPoint() throws {
            let root = try LifecycleRoot("mount-link")
            defer { root.tearDown() }
            try root.installImage()
            let elsewhere = root["elsewhere"]
            try FS.mkdir(elsewhere)
            try FS.symlink(target: elsewhere, at: root.mountPoint())
            let before = try root.snapshot()

            let result = try root.ksqsh("mount", kernel: version)
            expectRefusal(result, exit: Ksqsh.Exit.pathRefused, naming: [root.mountPoint()], in: root, before: before)
            #expect(root.mounts.isEmpty, "nothing mounted, least of all at \(elsewhere): \(root.mounts)")
        }

        @Test("--kernel may be left out with exactly one image; with two images that is 66")
        func kernelOptionalOnlyWithOneImage() throws {
            let root = try LifecycleRoot("only")
            defer { root.tearDown() }
            try root.installImage()

            expectCompleted(try root.ksqsh("mount"), printing: ["\(root.mountPoint()): mounted from \(root.image())"])
            #expect(root.isMounted())
            expectCompleted(try root.ksqsh("umount"), printing: ["\(root.mountPoint()): unmounted"])

            try root.installImage("6.12.11-gentoo")
            let before = try root.snapshot()
            let mount = try root.ksqsh("mount")
            expectRefusal(mount, exit: Ksqsh.Exit.kernelVersionUnknown, naming: [root.sources], in: root, before: before)
            #expect(mount.stderrText.contains("6.12.10-gentoo") && mount.stderrText.contains("6.12.11-gentoo"), "the error lists the versions: \(mount)")
            let umount = try root.ksqsh("umount")
            expectRefusal(umount, exit: Ksqsh.Exit.kernelVersionUnknown, naming: [root.sources], in: root, before: before)
        }

        @Test("a --kernel that is not a version (it would name another path) is a usage error and changes nothing")
        func rejectsPathLikeVersions() throws {
            let root = try LifecycleRoot("badversion")
            defer { root.tearDown() }
            try root.installImage()
            let before = try root.snapshot()
            for bad: ByteString in ["../../../etc", "6.12.10-gentoo/../../x", "-gentoo", "6.12.10 gentoo"] {
                let result = try root.ksqsh("mount", kernel: bad)
                #expect(result.exitCode == Ksqsh.Exit.usage, "\(result)")
            }
            let changes = before.changes(to: try root.snapshot())
            let unchanged = changes.isEmpty
            #expect(unchanged, "\(RootSnapshot.describe(changes))")
        }
    }
}
