import Glibc
import Testing

extension LifecycleTests {
    @Suite("ksqsh umount")
    struct Umount {
        let version = LifecycleRoot.version

        @Test("not mounted: exit 0, \"not mounted\", nothing changes")
        func notMountedIsNoop() throws {
            let root = try LifecycleRoot("umount-noop")
            defer { root.tearDown() }
            try root.installImage()
            let before = try root.snapshot()

            let result = try root.ksqsh("umount", kernel: version)
            expectCompleted(result, printing: ["\(root.mountPoint()): not mounted"])
            let changes = before.changes(to: try root.snapshot())
            let unchanged = changes.isEmpty
            #expect(unchanged, "\(RootSnapshot.describe(changes))")
        }

        @Test("a foreign filesystem on the mount point (a tmpfs) is not unmounted: 63, and it stays with its files")
        func leavesForeignMountAlone() throws {
            let root = try LifecycleRoot("umount-foreign")
            defer { root.tearDown() }
            try root.installImage()
            let mountPoint = root.mountPoint()
            try FS.mkdir(mountPoint)
            try Subprocess.runChecked("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint])
            try FS.writeFile(mountPoint / "notes", Array("only on this tmpfs\n".utf8))
            let before = try root.snapshot()

            // Like `mount`, which refuses to cover it, `umount` must not take
            // away a filesystem that is not this kernel's image: unmounting a
            // tmpfs destroys its files.
            let result = try root.ksqsh("umount", kernel: version)
            expectRefusal(result, exit: Ksqsh.Exit.mountPointOccupied, naming: [mountPoint], in: root, before: before)
            #expect(root.mounts(at: mountPoint).map(\.fileSystem) == ["tmpfs"], "the tmpfs is still mounted: \(root.mounts)")
            #expect((try? FS.readFile(mountPoint / "notes")) == Array("only on this tmpfs\n".utf8), "its files are still there")
        }

        @Test("unmounts, removes the empty mount point, frees the loop device and keeps the image")
        func unmountsAndRemovesMountPoint() throws {
            let root = try LifecycleRoot("umount")
            defer { root.tearDown() }
            let image = try root.installImage()
            let imageHash = try ContentHash.ofFile(image)
            expectCompleted(try root.ksqsh("mount", kernel: version))
            #expect(root.isMounted())

            let result = try root.ksqsh("umount", kernel: version)
            expectCompleted(result, printing: ["\(root.mountPoint()): unmounted"])
            #expect(root.mounts.isEmpty)
            #expect(!FS.exists(root.mountPoint()), "the empty mount point is removed")
            #expect(try ContentHash.ofFile(image) == imageHash, "the image is kept as it was")
            #expect(LoopDevices.attached(to: image).isEmpty, "the loop device is freed: \(LoopDevices.attached(to: image))")
        }

        @Test("busy: 65, one line naming the process and its pid; --lazy detaches anyway")
        func busyNamesHolderAndLazyDetaches() throws {
            let root = try LifecycleRoot("busy")
            defer { root.tearDown() }
            let image = try root.installImage()
            expectCompleted(try root.ksqsh("mount", kernel: version))
            let holder = try BusyHolder(workingDirectory: root.mountPoint() / "scripts")
            defer { holder.stop() }
            let before = try root.snapshot()

            let busy = try root.ksqsh("umount", kernel: version)
            expectRefusal(busy, exit: Ksqsh.Exit.mountBusy, naming: [root.mountPoint()], in: root, before: before)
            #expect(busy.stderrText.contains("sleep"), "stderr names the holder's command: \(busy)")
            #expect(busy.stderrText.contains("\(holder.pid)"), "stderr names the holder's pid \(holder.pid): \(busy)")
            #expect(root.isMounted(), "a busy mount stays mounted")

            let lazy = try root.ksqsh("umount", kernel: version, ["--lazy"])
            expectCompleted(lazy, printing: ["\(root.mountPoint()): unmounted"])
            #expect(root.mounts.isEmpty, "detached from the tree at once: \(root.mounts)")
            #expect(holder.process.isRunning, "the holder keeps running in the detached filesystem")

            holder.stop()
            // The kernel completes the unmount once the last user is gone; the
            // loop device (auto-clear) goes with it.
            let deadline = ContinuousClock.now + .seconds(10)
            while !LoopDevices.attached(to: image).isEmpty && ContinuousClock.now < deadline { usleep(50_000) }
            #expect(LoopDevices.attached(to: image).isEmpty, "the loop device is freed after the holder exits")
        }

        @Test("mount --all and umount --all handle several versions, each reported on its own line")
        func allVersions() throws {
            let root = try LifecycleRoot("all")
            defer { root.tearDown() }
            let versions: [ByteString] = ["6.1.5-gentoo", "6.12.1-gentoo", "6.12.10-gentoo"]
            for version in versions { try root.installImage(version) }

            let mount = try root.ksqsh("mount", ["--all"])
            let mountLines = expectCompleted(mount)
            for version in versions {
                #expect(mountLines.contains("\(version): mounted"), "\(mount)")
                #expect(root.isMounted(version))
            }
            let again = try root.ksqsh("mount", ["--all"])
            let againLines = expectCompleted(again)
            for version in versions { #expect(againLines.contains("\(version): already mounted"), "\(again)") }
            #expect(root.mounts.count == versions.count, "nothing stacked: \(root.mounts)")

            let umount = try root.ksqsh("umount", ["--all"])
            let umountLines = expectCompleted(umount)
            for version in versions {
                #expect(umountLines.contains("\(version): unmounted"), "\(umount)")
                #expect(!root.isMounted(version))
                #expect(!FS.exists(root.mountPoint(version)), "empty mount point \(root.mountPoint(version)) removed")
            }
            #expect(root.mounts.isEmpty)
            expectCompleted(try root.ksqsh("umount", ["--all"]))
        }

        @Test("mount --all goes on past a failure and exits with its status; umount --all leaves foreign mounts alone")
        func allContinuesPastFailure() throws {
            let root = try LifecycleRoot("all-fail")
            defer { root.tearDown() }
            let blocked: ByteString = "6.12.1-gentoo"
            let fine: ByteString = "6.12.10-gentoo"
            try root.installImage(blocked)
            try root.installImage(fine)
            try FS.mkdir(root.mountPoint(blocked))
            try Subprocess.runChecked("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", root.mountPoint(blocked)])

            let mount = try root.ksqsh("mount", ["--all"])
            #expect(mount.exitCode == Ksqsh.Exit.mountPointOccupied, "\(mount)")
            #expect(mount.stderrLines.count == 1 && mount.stderrText.contains(root.mountPoint(blocked).string), "\(mount)")
            #expect(mount.stdoutText.split(separator: "\n").contains("\(fine): mounted"), "\(mount)")
            #expect(root.isMounted(fine))

            let umount = try root.ksqsh("umount", ["--all"])
            expectCompleted(umount, printing: ["\(fine): unmounted"])
            #expect(!umount.stdoutText.contains(blocked.string), "the tmpfs is not a kernel image: \(umount)")
            #expect(root.mounts(at: root.mountPoint(blocked)).map(\.fileSystem) == ["tmpfs"])
        }
    }
}
