import Glibc
import Testing

extension LifecycleTests {
    @Suite("ksqsh clean")
    struct Clean {
        let version = LifecycleRoot.version

        /// An installed, mounted, configured kernel as `prepare` leaves it:
        /// the image mounted, build-KV with a .config carrying `marker`, the
        /// `source` link make creates, and some build output.
        @discardableResult
        private func configuredKernel(_ root: LifecycleRoot, _ version: ByteString, marker: String) throws -> [UInt8] {
            try root.installImage(version)
            expectCompleted(try root.ksqsh("mount", kernel: version))
            let build = root.buildDirectory(version)
            let config = KernelConfig.withMarker(marker)
            try root.write(build / ".config", config)
            try FS.symlink(target: root.mountPoint(version), at: build / "source")
            try root.write(build / "include/generated/autoconf.h", Array("#define CONFIG_X 1\n".utf8))
            try root.write(build / "scripts/basic/fixdep", Array(repeating: 0x7f, count: 4096))
            return config
        }

        @Test("saves .config to etc/kernels, removes the build dir, unmounts, removes the mount point and the dangling linux link")
        func cleansOneVersion() throws {
            let root = try LifecycleRoot("clean")
            defer { root.tearDown() }
            let config = try configuredKernel(root, version, marker: "cleaned")
            try FS.symlink(target: "build-" + version, at: root.symlink)
            // Something outside usr/src reachable through a symlink in the build dir.
            let outside = root["outside"]
            try root.write(outside / "precious", Array("keep me\n".utf8))
            try FS.symlink(target: outside, at: root.buildDirectory() / "outside-link")
            let outsideTree = try Manifest.scan(outside)

            let result = try root.ksqsh("clean", kernel: version)
            let lines = expectCompleted(result)
            #expect(lines.contains { $0.hasPrefix("save") && $0.contains(root.savedConfig().string) }, "\(result)")
            #expect(lines.contains { $0.hasPrefix("unmount") }, "\(result)")

            #expect(try FS.readFile(root.savedConfig()) == config, "the .config is saved byte for byte")
            #expect(!FS.exists(root.buildDirectory()), "the build dir is gone")
            #expect(!root.isMounted() && root.mounts.isEmpty, "unmounted: \(root.mounts)")
            #expect(!FS.exists(root.mountPoint()), "the empty mount point is gone")
            #expect(FS.exists(root.image()), "the image stays (portage owns it)")
            #expect(!FS.exists(root.symlink), "linux pointed at the removed build dir and no other version exists: removed")
            expectUnchanged(outside, before: outsideTree)
        }

        @Test("re-points linux at the newest other version's build dir, leaves the other versions alone")
        func repointsLinkAtNewestOtherVersion() throws {
            let root = try LifecycleRoot("repoint")
            defer { root.tearDown() }
            try configuredKernel(root, version, marker: "ten")
            let other: ByteString = "6.12.1-gentoo"
            try configuredKernel(root, other, marker: "one")
            let oldest: ByteString = "6.9.9-gentoo"
            try root.write(root.buildDirectory(oldest) / ".config", KernelConfig.withMarker("nine"))
            try FS.symlink(target: "build-" + version, at: root.symlink)
            let otherBuild = try Manifest.scan(root.buildDirectory(other))

            let result = try root.ksqsh("clean", kernel: version)
            expectCompleted(result, printing: ["point \(root.symlink) at build-\(other)"])
            #expect(try FS.readlink(root.symlink) == "build-" + other, "6.12.1 is newer than 6.9.9 (version order)")
            #expect(root.isMounted(other), "6.12.1 stays mounted")
            expectUnchanged(root.buildDirectory(other), before: otherBuild)

            // Cleaning a version linux does not point at leaves the link alone.
            let third = try root.ksqsh("clean", kernel: oldest)
            expectCompleted(third)
            #expect(try FS.readlink(root.symlink) == "build-" + other)
            #expect(KernelConfig.localVersion(of: root.savedConfig(oldest)) == "-nine")
        }

        @Test("a second clean with a different .config keeps the first as kernel-config-KV~TIME: nothing is lost")
        func secondCleanKeepsPreviousConfig() throws {
            let root = try LifecycleRoot("reclean")
            defer { root.tearDown() }
            let first = try configuredKernel(root, version, marker: "first")
            expectCompleted(try root.ksqsh("clean", kernel: version))
            #expect(try FS.readFile(root.savedConfig()) == first)

            try FS.mkdirs(root.buildDirectory())
            let second = KernelConfig.withMarker("second")
            try root.write(root.buildDirectory() / ".config", second)
            expectCompleted(try root.ksqsh("clean", kernel: version))

            let name = "kernel-config-\(version)"
            let files = try FS.list(root.savedConfigs)
            #expect(try FS.readFile(root.savedConfig()) == second, "the newest config takes the plain name")
            let archived = files.filter { $0.string.hasPrefix(name + "~") }
            #expect(archived.count == 1 && files.count == 2, "one archived copy beside it: \(files)")
            if let kept = archived.first {
                #expect(try FS.readFile(root.savedConfigs / kept) == first, "the archived copy holds the first config")
                let stamp = kept.string.dropFirst(name.count + 1)
                #expect(stamp.wholeMatch(of: /\d{8}-\d{6}(-\d+)?/) != nil, "~YYYYMMDD-HHMMSS, got \(kept)")
            }

            // The same content again: nothing new is archived.
            try FS.mkdirs(root.buildDirectory())
            try root.write(root.buildDirectory() / ".config", second)
            expectCompleted(try root.ksqsh("clean", kernel: version))
            #expect(try FS.list(root.savedConfigs).count == 2, "an identical config is not archived again")
        }

        @Test("--pretend lists the steps and changes nothing at all")
        func pretendChangesNothing() throws {
            let root = try LifecycleRoot("pretend")
            defer { root.tearDown() }
            try configuredKernel(root, version, marker: "pretend")
            try FS.symlink(target: "build-" + version, at: root.symlink)
            let before = try root.snapshot()

            let result = try root.ksqsh("clean", kernel: version, ["--pretend", "--image"])
            let lines = expectCompleted(result)
            #expect(!lines.isEmpty && lines.allSatisfy { $0.hasPrefix("would ") }, "every line says what would be done: \(result)")
            for step in ["save", "remove \(root.buildDirectory())", "unmount", "delete \(root.image())"] {
                #expect(lines.contains { $0.contains(step) }, "a \"\(step)\" step is listed: \(result)")
            }
            let changes = before.changes(to: try root.snapshot())
            let unchanged = changes.isEmpty
            #expect(unchanged, "--pretend changed:\n\(RootSnapshot.describe(changes))")
            #expect(root.isMounted())
        }

        @Test("a build dir that is a symlink to a directory outside usr/src is refused (67); its target is untouched")
        func refusesSymlinkedBuildDir() throws {
            let root = try LifecycleRoot("build-link")
            defer { root.tearDown() }
            try root.installImage()
            expectCompleted(try root.ksqsh("mount", kernel: version))
            let elsewhere = root["home/user/kernel-build"]
            try root.write(elsewhere / ".config", KernelConfig.withMarker("elsewhere"))
            try root.write(elsewhere / "vmlinux", Array(repeating: 0x55, count: 8192))
            try FS.symlink(target: elsewhere, at: root.buildDirectory())
            let target = try Manifest.scan(elsewhere)
            let before = try root.snapshot()

            let result = try root.ksqsh("clean", kernel: version)
            expectRefusal(result, exit: Ksqsh.Exit.pathRefused, naming: [root.buildDirectory()], in: root, before: before)
            expectUnchanged(elsewhere, before: target)
            #expect(root.isMounted())
        }

        @Test("never unmounts a foreign filesystem at linux-KV (a tmpfs with someone's files); nothing is lost")
        func leavesForeignMountAlone() throws {
            let root = try LifecycleRoot("clean-foreign")
            defer { root.tearDown() }
            try root.installImage()
            let mountPoint = root.mountPoint()
            try FS.mkdir(mountPoint)
            try Subprocess.runChecked("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint])
            try FS.writeFile(mountPoint / "notes", Array("only on this tmpfs\n".utf8))
            let config = KernelConfig.withMarker("foreign")
            try root.write(root.buildDirectory() / ".config", config)

            let result = try root.ksqsh("clean", kernel: version)
            #expect(root.mounts(at: mountPoint).map(\.fileSystem) == ["tmpfs"], "the tmpfs is still mounted: \(result)")
            #expect((try? FS.readFile(mountPoint / "notes")) == Array("only on this tmpfs\n".utf8), "its files are still there")
            let kept = (try? FS.readFile(root.savedConfig())) == config || (try? FS.readFile(root.buildDirectory() / ".config")) == config
            #expect(kept, "the .config is saved or still in place")
            if !result.succeeded {
                #expect(result.stderrLines.count == 1 && result.stderrText.contains(mountPoint.string), "one line naming \(mountPoint): \(result)")
            }
        }

        @Test("--image also deletes the image, after unmounting")
        func imageFlagDeletesImage() throws {
            let root = try LifecycleRoot("clean-image")
            defer { root.tearDown() }
            let config = try configuredKernel(root, version, marker: "gone")

            let result = try root.ksqsh("clean", kernel: version, ["--image"])
            expectCompleted(result, printing: ["delete \(root.image())"])
            #expect(!FS.exists(root.image()))
            #expect(LoopDevices.attached(to: root.image()).isEmpty, "no loop device keeps the deleted image alive")
            #expect(try FS.readFile(root.savedConfig()) == config, "the config is saved even when everything else goes")
            #expect(root.mounts.isEmpty && !FS.exists(root.mountPoint()) && !FS.exists(root.buildDirectory()))
            let left = try FS.list(root.sources)
            #expect(left.isEmpty, "usr/src is empty again: \(left)")
        }
    }
}
