import Glibc
import Testing

extension LifecycleTests {
    @Suite("ksqsh status")
    struct Status {
        /// One version in each state.
        enum State: String, CaseIterable {
            case imageOnly = "6.1.1-gentoo"
            case mounted = "6.2.2-gentoo"
            case configured = "6.3.3-gentoo"
            case unpacked = "6.4.4-gentoo"
            case emptyMountPoint = "6.5.5-gentoo"

            var version: ByteString { ByteString(rawValue) }
        }

        /// A ROOT holding every state at once; linux -> build-6.3.3-gentoo.
        private func rootWithEveryState(_ label: String) throws -> LifecycleRoot {
            let root = try LifecycleRoot(label)
            try root.installImage(State.imageOnly.version)
            for state in [State.mounted, .configured] {
                try root.installImage(state.version)
                expectCompleted(try root.ksqsh("mount", kernel: state.version))
            }
            try root.write(root.buildDirectory(State.configured.version) / ".config", KernelConfig.withMarker("status"))
            // As a build leaves it: linux names it, so an unbuilt one would be a problem.
            try root.write(root.buildDirectory(State.configured.version) / "Module.symvers", [])
            try FS.symlink(target: "build-" + State.configured.version, at: root.symlink)
            try root.write(root.mountPoint(State.unpacked.version) / "Makefile", Array("# unpacked\n".utf8))
            try FS.mkdir(root.mountPoint(State.emptyMountPoint.version))
            return root
        }

        @Test("--json: version, mountPoint (mounted/empty/unpacked/absent), configured and problems for each state")
        func json() throws {
            let root = try rootWithEveryState("status-json")
            defer { root.tearDown() }

            let result = try root.ksqsh("status", ["--json"])
            expectCompleted(result)
            let status = try StatusReport.decode(result)
            #expect(status.root == root.path.string)
            #expect(status.symlink == "build-\(State.configured.rawValue)")
            #expect(status.kernels.map(\.version) == State.allCases.map(\.rawValue), "every version, in version order")

            let imageOnly = try #require(status[State.imageOnly.rawValue])
            #expect(imageOnly.mountPoint == "absent")
            #expect(imageOnly.image == root.image(State.imageOnly.version).string)
            #expect(!imageOnly.configured)
            #expect(imageOnly.problems.contains { $0.contains("not mounted") }, "\(imageOnly.problems)")

            let mounted = try #require(status[State.mounted.rawValue])
            #expect(mounted.mountPoint == "mounted")
            #expect(mounted.loopDevice?.hasPrefix("/dev/loop") == true, "\(String(describing: mounted.loopDevice))")
            #expect(!mounted.configured)
            #expect(mounted.built == false)
            #expect(mounted.problems.isEmpty, "\(mounted.problems)")

            let configured = try #require(status[State.configured.rawValue])
            #expect(configured.mountPoint == "mounted")
            #expect(configured.configured)
            #expect(configured.built == true)
            #expect(configured.buildDirectory == root.buildDirectory(State.configured.version).string)
            #expect(configured.symlinked == true)
            #expect(configured.problems.isEmpty, "\(configured.problems)")

            let unpacked = try #require(status[State.unpacked.rawValue])
            #expect(unpacked.mountPoint == "unpacked")
            #expect(unpacked.image == nil)
            #expect(!unpacked.configured)

            let empty = try #require(status[State.emptyMountPoint.rawValue])
            #expect(empty.mountPoint == "empty")
            #expect(empty.image == nil)
            #expect(empty.problems.contains { $0.contains("mount point without an image") }, "\(empty.problems)")

            #expect(status.kernels.filter { $0.symlinked == true }.map(\.version) == [State.configured.rawValue])
        }

        @Test("the table: the linux link, one row per version, then one line per problem")
        func table() throws {
            let root = try rootWithEveryState("status-table")
            defer { root.tearDown() }

            let result = try root.ksqsh("status")
            let lines = expectCompleted(result)
            #expect(lines.first == "\(root.sources)/linux -> build-\(State.configured.rawValue)"[...], "\(result)")
            #expect(lines.dropFirst().first?.hasPrefix("VERSION") == true, "a header row: \(result)")
            func row(_ state: State) -> Substring? {
                lines.first { $0.hasPrefix(state.rawValue + " ") && !$0.hasPrefix(state.rawValue + ": ") }
            }
            #expect(row(.imageOnly)?.contains("absent") == true, "\(result)")
            #expect(row(.mounted)?.contains("mounted (/dev/loop") == true, "\(result)")
            #expect(row(.mounted)?.contains("configured") == false, "\(result)")
            #expect(row(.configured)?.hasPrefix(State.configured.rawValue + " *") == true, "the linked version is starred: \(result)")
            #expect(row(.configured)?.contains(" built") == true, "\(result)")
            #expect(row(.unpacked)?.contains("unpacked") == true, "\(result)")
            #expect(row(.emptyMountPoint)?.contains("empty") == true, "\(result)")
            #expect(lines.contains { $0.hasPrefix("\(State.imageOnly.rawValue): ") && $0.contains("not mounted") }, "\(result)")
            #expect(lines.contains { $0.hasPrefix("\(State.emptyMountPoint.rawValue): ") && $0.contains("mount point without an image") }, "\(result)")
            #expect(!lines.contains { $0.hasPrefix("\(State.mounted.rawValue): ") || $0.hasPrefix("\(State.configured.rawValue): ") }, "healthy versions have no problem lines: \(result)")
        }

        @Test("an empty ROOT: no kernels, no link, exit 0")
        func emptyRoot() throws {
            let root = try LifecycleRoot("status-empty")
            defer { root.tearDown() }
            let result = try root.ksqsh("status", ["--json"])
            expectCompleted(result)
            let status = try StatusReport.decode(result)
            #expect(status.kernels.isEmpty)
            #expect(status.symlink == nil)
        }
    }
}
