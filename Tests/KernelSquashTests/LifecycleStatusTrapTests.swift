import Foundation
import Glibc
import Testing

extension LifecycleTests {
    /// `ksqsh status` on the states a kernel's later life leaves: links that
    /// lead `make` or module packages to the read-only sources or to a build
    /// dir that is gone, and a configured build dir nothing was built in.
    /// Each problem names the command that fixes it, and the test runs that
    /// command and checks the problem is gone.
    @Suite(
        "ksqsh status: the traps after the build",
        .enabled(if: LifecycleRequirements.hasKernelBuildTools, "needs make, gcc, flex and bison for the kernel's make")
    )
    struct StatusTraps {
        let version = LifecycleRoot.version

        private func problems(_ root: LifecycleRoot, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String] {
            let result = try root.ksqsh("status", ["--json"])
            expectCompleted(result, sourceLocation: sourceLocation)
            return try #require(StatusReport.decode(result)[version.string], sourceLocation: sourceLocation).problems
        }

        /// Runs the fix a problem line names and expects the line gone.
        private func expectFixed(
            _ root: LifecycleRoot, by arguments: [ByteString], removing fragment: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) throws {
            expectCompleted(try root.ksqsh("prepare", kernel: version, arguments), sourceLocation: sourceLocation)
            let after = try problems(root, sourceLocation: sourceLocation)
            #expect(!after.contains { $0.contains(fragment) }, "\(after)", sourceLocation: sourceLocation)
        }

        @Test("/usr/src/linux -> linux-KV (as eselect kernel set leaves it): the read-only sources, fixed by prepare --symlink")
        func linkToReadOnlySources() throws {
            let root = try LifecycleRoot("trap-readonly")
            defer { root.tearDown() }
            try root.installImage()
            expectCompleted(try root.ksqsh("mount", kernel: version))
            try FS.symlink(target: "linux-" + version, at: root.symlink)

            let found = try problems(root)
            #expect(
                found.contains { $0.contains("read-only sources") && $0.contains("ksqsh prepare --kernel \(version) --symlink") },
                "\(found)")
            try expectFixed(root, by: ["--symlink"], removing: "read-only sources")
            #expect(try FS.readlink(root.symlink) == "build-" + version)
        }

        @Test("/usr/src/linux and /lib/modules/R/build -> a build dir that is gone (what eclean-kernel leaves): prepare recreates it from the saved config")
        func linksToVanishedBuildDir() throws {
            let root = try LifecycleRoot("trap-vanished")
            defer { root.tearDown() }
            try root.installImage()
            expectCompleted(try root.ksqsh("mount", kernel: version))
            try root.write(root.savedConfig(), KernelConfig.withMarker("saved"))
            try FS.symlink(target: "build-" + version, at: root.symlink)
            let modules = root.path / "lib/modules" / (version + "-x86_64")
            try FS.mkdirs(modules)
            // As modules_install writes it: the absolute path on the installing system.
            try FS.symlink(target: "/usr/src/build-" + version, at: modules / "build")

            let found = try problems(root)
            let fix = "which is gone (ksqsh prepare --kernel \(version) recreates it from \(root.savedConfig()))"
            #expect(found.contains("\(root.symlink) points at \(root.buildDirectory()), \(fix)"), "\(found)")
            #expect(found.contains("\(modules)/build points at \(root.buildDirectory()), \(fix)"), "\(found)")
            try expectFixed(root, by: [], removing: "which is gone")
            #expect(KernelConfig.localVersion(of: root.buildDirectory() / ".config") == "-saved")
        }

        @Test("a configured build dir that /usr/src/linux names but nothing was built in: Module.symvers is missing")
        func configuredNotBuilt() throws {
            let root = try LifecycleRoot("trap-unbuilt")
            defer { root.tearDown() }
            try root.installImage()
            expectCompleted(try root.ksqsh("mount", kernel: version))
            try root.write(root.buildDirectory() / ".config", KernelConfig.withMarker("unbuilt"))
            try FS.symlink(target: "build-" + version, at: root.symlink)

            let found = try problems(root)
            #expect(found.contains("configured but not built: out-of-tree modules need its Module.symvers (make -C \(root.buildDirectory()))"), "\(found)")
            // What the build leaves, as far as status looks.
            try root.write(root.buildDirectory() / "Module.symvers", [])
            let after = try problems(root)
            #expect(after.isEmpty, "\(after)")
        }

        @Test("--json writes null for an absent value instead of leaving the key out")
        func jsonNulls() throws {
            let root = try LifecycleRoot("status-nulls")
            defer { root.tearDown() }
            try root.installImage()
            let result = try root.ksqsh("status", ["--json"])
            expectCompleted(result)
            let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout)) as? [String: Any])
            #expect(document["symlink"] is NSNull, "\(document)")
            let kernel = try #require((document["kernels"] as? [[String: Any]])?.first)
            for key in ["loopDevice", "buildDirectory", "savedConfig", "package"] {
                #expect(kernel[key] is NSNull, "\(key) should be null: \(result.stdoutText)")
            }
            #expect(kernel["installedReleases"] as? [String] == [], "\(result.stdoutText)")
            #expect(kernel["built"] as? Bool == false, "\(result.stdoutText)")
        }
    }
}
