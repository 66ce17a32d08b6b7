import Testing

extension LifecycleTests {
    /// What `clean` deletes waits until the `.config` it saved survives a
    /// power cut: traced with strace, the saved file, its name and every
    /// directory made for it are fsynced before the first unlink in the
    /// build dir. (A filesystem that does not order metadata, or /etc on
    /// another filesystem than /usr/src, could otherwise keep the unlinks
    /// and lose the saved copy.)
    @Suite(
        "Durability: clean deletes only once the saved .config is on disk",
        .enabled(if: Subprocess.isInstalled("strace"), "needs strace (make deps installs it)")
    )
    struct DurableSave {
        @Test("clean on a root without etc/: the new directories, the saved config and its name are synced before the build dir's first unlink")
        func cleanSyncsBeforeDeleting() throws {
            let root = try LifecycleRoot("durable-clean")
            defer { root.tearDown() }
            let build = root.buildDirectory()
            try root.write(build / ".config", KernelConfig.withMarker("durable"))
            try root.write(build / "kernel/fork.o", [1])
            let traceFile = root["strace.out"]

            let traced = try Subprocess.run(
                "strace",
                ["-f", "-y", "-qq", "-o", traceFile, "-e", "trace=mkdir,mkdirat,rename,renameat,renameat2,link,linkat,fsync,fdatasync,unlink,unlinkat,rmdir",
                 try Ksqsh.binary(), "clean", "--root", root.path, "--kernel", LifecycleRoot.version],
                timeout: .seconds(60))
            expectCompleted(traced)
            #expect(KernelConfig.localVersion(of: root.savedConfig()) == "-durable")
            let trace = SyscallTrace(try FS.readFile(traceFile))
            let buildPath = build.string
            let firstRemoval = try #require(
                trace.calls.first { SyscallTrace.removals.contains($0.name) && $0.paths.contains { $0 == buildPath || $0.hasPrefix(buildPath + "/") } },
                "clean removed nothing in \(buildPath):\n\(trace.calls.map(\.line).joined(separator: "\n"))")
            let before = trace.calls.prefix(firstRemoval.index)
            func expectSynced(_ path: String, after call: SyscallTrace.Call, why: String) {
                let sync = trace.first(SyscallTrace.syncs, on: path, from: call.index + 1)
                #expect(sync != nil && sync!.index < firstRemoval.index, "\(why): no fsync of \(path) after `\(call)` before `\(firstRemoval)`")
            }

            // The directories made on the way to the saved config (the lock
            // directory in run/ needs no durability).
            let savedPath = root.savedConfig().string
            let made = before.filter { call in
                SyscallTrace.directoryCreations.contains(call.name) && call.paths.first.map { savedPath.hasPrefix($0 + "/") } == true
            }
            #expect(made.contains { $0.paths.first == root.savedConfigs.string }, "clean makes etc/kernels: \(made)")
            for call in made {
                let directory = call.paths.first ?? ""
                expectSynced(String(directory[..<(directory.lastIndex(of: "/") ?? directory.endIndex)]), after: call, why: "the new directory's name")
            }
            let saved = try #require(before.first { SyscallTrace.renames.contains($0.name) && $0.paths.last == root.savedConfig().string }, "the saved config is renamed into place")
            let temporary = saved.paths.first ?? ""
            let contentSync = trace.calls.prefix(saved.index).first { SyscallTrace.syncs.contains($0.name) && $0.paths == [temporary] }
            #expect(contentSync != nil, "the saved config's content is synced before its rename")
            expectSynced(root.savedConfigs.string, after: saved, why: "the saved config's name")
        }
    }
}
