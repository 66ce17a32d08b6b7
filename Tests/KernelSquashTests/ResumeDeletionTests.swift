import Glibc
import Testing

/// A `--delete-source` killed while deleting leaves the verified image, a
/// partly emptied tree and `.IMAGE.delete-source` beside the image. The same
/// command again (or the pre_src_install hook, or `ksqsh adopt`) checks that
/// what is left is in the image unchanged and finishes; anything else is
/// refused with the tree left as it is.
@Suite(
    "Resuming an interrupted --delete-source", .serialized, .hangGuard,
    .enabled(if: Requirements.isRoot, "needs root to mount a tmpfs")
)
struct ResumeDeletionTests {
    /// A tree deleted from about a third, on a tmpfs under a temp dir.
    final class Interrupted {
        let base: TemporaryDirectory
        let master: ByteString
        let source: ByteString
        let image: ByteString
        var marker: ByteString { image.parent / ".linux.sqfs.delete-source" }
        var arguments: [ByteString] { ["squash", source, image, "--verify", "--delete-source", "--quiet", "--compression", "gzip"] }
        /// The image as the killed run left it.
        private(set) var imageBytes: [UInt8] = []

        init(_ label: String) throws {
            base = try TemporaryDirectory(label)
            try Subprocess.runChecked("mount", ["-t", "tmpfs", "-o", "size=128m", "tmpfs", base.path])
            master = base["master"]
            source = base["src"]
            image = base["images"] / "linux.sqfs"
            try FS.mkdir(image.parent)
            try KillLab.generateTree(at: master)
            try Subprocess.runChecked("cp", ["-a", "--", master, source])
        }

        func tearDown() {
            Mounts.unmount(base.path)
            base.remove()
        }

        /// Runs `arguments` and SIGKILLs ksqsh once the file a third of the
        /// way through the deletion order is gone.
        func killDuringDeletion(_ arguments: [ByteString]? = nil, environment: [String: String?] = [:]) throws {
            try killWhileDeleting(from: source, arguments ?? self.arguments, environment: environment, watching: master) {
                try restore(source, from: master, removing: try FS.list(image.parent).map { image.parent / $0 })
            }
            imageBytes = try FS.readFile(image)
        }

        /// What is left of the tree.
        var remaining: Manifest { get throws { try Manifest.scan(source) } }
    }

    @Test("the same command again checks what is left against the image, deletes it and removes the marker")
    func resumes() throws {
        let run = try Interrupted("resume")
        defer { run.tearDown() }
        try run.killDuringDeletion()
        #expect(FS.exists(run.marker), "the marker is left beside the image")
        let left = try run.remaining.entries.count
        let all = try Manifest.scan(run.master).entries.count
        #expect(left > 1 && left < all, "the tree is partly deleted (\(left) entries left)")

        let rerun = try Ksqsh.run(run.arguments)
        expectSuccess(rerun)
        #expect(try FS.list(run.source).isEmpty)
        #expect(try FS.list(run.image.parent) == [run.image.lastComponent], "the marker is gone")
        #expect(try FS.readFile(run.image) == run.imageBytes, "the verified image is kept, not made again from the remainder")
        expectSuccess(try Ksqsh.verify(run.image, against: run.master))
        print("reliability-summary\tresume deletion: same command\t1\t\(rerun.succeeded ? 1 : 0)\t\(left) entries left by SIGKILL")
    }

    @Test("a tree that gained or changed an entry since is refused (13), nothing more is deleted, and it finishes once undone")
    func refusesChangedTree() throws {
        let run = try Interrupted("resume-changed")
        defer { run.tearDown() }
        try run.killDuringDeletion()
        // The last files in deletion order are still there.
        let changed = run.source / (try #require(try KillLab.regularFilesInPreorder(run.source, relative: nil).last))
        let added = changed.parent / "new-file.c"
        let original = try FS.readFile(changed)
        let originalMtime = try FS.lstat(changed).st_mtim.tv_sec

        var refused = 0
        for change in ["gained", "changed"] {
            if change == "gained" {
                try FS.writeFile(added, Array("int added;\n".utf8))
            } else {
                try FS.writeFile(changed, original.map { $0 == UInt8(ascii: "e") ? UInt8(ascii: "E") : $0 })
            }
            let before = try run.remaining
            let result = try Ksqsh.run(run.arguments)
            #expect(result.exitCode == Ksqsh.Exit.sourceChanged, "\(change): \(result)")
            expectReport(result, headlineNaming: run.source, listing: change == "gained" ? added.lastComponent : changed.lastComponent)
            expectUnchanged(run.source, before: before)
            #expect(FS.exists(run.marker), "the marker stays: the deletion is still unfinished")
            #expect(try FS.readFile(run.image) == run.imageBytes)
            if result.exitCode == Ksqsh.Exit.sourceChanged { refused += 1 }
            // Undone: the added file removed, the changed one restored with its mtime.
            if change == "gained" {
                try FS.unlink(added)
            } else {
                try FS.writeFile(changed, original)
                try FS.setModificationTime(changed, seconds: originalMtime)
            }
        }
        let finished = try Ksqsh.run(run.arguments)
        expectSuccess(finished)
        #expect(try FS.list(run.source).isEmpty)
        print("reliability-summary\tresume deletion: tree gained or changed an entry\t3\t\(refused + (finished.succeeded ? 1 : 0))\trefused twice, then finished once undone")
    }

    @Test("without the marker an existing image is refused (20) as always; with it, another tree, a plain squash or --force are refused too")
    func refusals() throws {
        let run = try Interrupted("resume-refusals")
        defer { run.tearDown() }
        try run.killDuringDeletion()
        let before = try run.remaining
        let other = run.base["other"]
        try FS.mkdir(other)
        try FS.writeFile(other / "file", Array("other".utf8))

        let attempts: [(String, [ByteString])] = [
            ("another tree", ["squash", other, run.image, "--verify", "--delete-source", "--quiet"]),
            ("squash without --delete-source", ["squash", run.source, run.image, "--quiet"]),
            ("squash --force without --delete-source", ["squash", run.source, run.image, "--force", "--quiet"]),
        ]
        var passed = 0
        for (what, arguments) in attempts {
            let result = try Ksqsh.run(arguments)
            #expect(result.exitCode == Ksqsh.Exit.imageExists, "\(what): \(result)")
            #expect(result.stderrText.contains("interrupted"), "\(what): the error says a deletion was interrupted: \(result)")
            if result.exitCode == Ksqsh.Exit.imageExists { passed += 1 }
        }
        expectUnchanged(run.source, before: before)
        #expect(try FS.readFile(run.image) == run.imageBytes)

        try FS.unlink(run.marker)
        let withoutMarker = try Ksqsh.run(run.arguments)
        #expect(withoutMarker.exitCode == Ksqsh.Exit.imageExists, "\(withoutMarker)")
        expectUnchanged(run.source, before: before)
        if withoutMarker.exitCode == Ksqsh.Exit.imageExists { passed += 1 }
        print("reliability-summary\tresume deletion: refusals\t\(attempts.count + 1)\t\(passed)\tother tree, no --delete-source, --force, no marker")
    }

    @Test("a marker whose image never got its name (killed just before) is removed and the squash runs as usual")
    func staleMarker() throws {
        let run = try Interrupted("resume-stale")
        defer { run.tearDown() }
        let info = try FS.lstat(run.source)
        let text = "ksqsh delete-source 1\nsource-identity \(info.st_dev):\(info.st_ino)\nimage-identity \(info.st_dev):999999999\nimage-bytes 4096\nkeep-owner 0\nsource \(run.source)\n"
        try FS.writeFile(run.marker, Array(text.utf8))
        let result = try Ksqsh.run(run.arguments)
        expectSuccess(result)
        #expect(try FS.list(run.image.parent) == [run.image.lastComponent], "the stale marker is gone")
        expectSuccess(try Ksqsh.verify(run.image, against: run.master))
        print("reliability-summary\tresume deletion: stale marker\t1\t\(result.succeeded ? 1 : 0)\tremoved, squashed as usual")
    }

    @Test("pre_src_install after a kill while deleting finishes the deletion instead of squashing the remainder over the image")
    func hookResumes() throws {
        let run = try Interrupted("resume-hook")
        defer { run.tearDown() }
        let version = "6.12.10-gentoo"
        let workdir = run.base["work"]
        try FS.mkdir(workdir)
        let tree = workdir / ByteString("linux-\(version)")
        let image = workdir / ByteString("linux-\(version).sqfs")
        try FS.rename(run.source, tree)
        let environment: [String: String?] = ["KV_FULL": version, "WORKDIR": workdir.string, "ROOT": run.base["root"].string]
        try killWhileDeleting(from: tree, ["hook", "pre_src_install"], environment: environment, watching: run.master) {
            try restore(tree, from: run.master, removing: try FS.list(workdir).filter { $0 != tree.lastComponent }.map { workdir / $0 })
        }
        let killedImage = try FS.readFile(image)
        #expect(FS.exists(workdir / ByteString(".linux-\(version).sqfs.delete-source")))

        let rerun = try Ksqsh.run(["hook", "pre_src_install"], environment: environment)
        expectSuccess(rerun)
        #expect(try FS.list(tree).isEmpty)
        #expect(try FS.list(workdir) == [tree.lastComponent, image.lastComponent].sorted(), "only S and the image are left in WORKDIR")
        #expect(try FS.readFile(image) == killedImage, "the verified image is kept")
        expectSuccess(try Ksqsh.verify(image, against: run.master))
        print("reliability-summary\tresume deletion: pre_src_install hook\t1\t\(rerun.succeeded ? 1 : 0)\tSIGKILL while deleting, hook run again")
    }

    @Test(
        "ksqsh adopt killed while deleting: adopt again finishes (image kept, tree emptied, mounted, build dir configured)",
        .enabled(if: Mounts.canLoopMount && LifecycleRequirements.hasKernelBuildTools, "needs loop devices and make, gcc, flex, bison")
    )
    func adoptResumes() throws {
        let root = try LifecycleRoot("adopt-resume")
        defer { root.tearDown() }
        let version: ByteString = "6.12.21-gentoo"
        // A tmpfs for usr/src: deleting 8,800 files on this disk takes longer than the whole test should.
        try Subprocess.runChecked("mount", ["-t", "tmpfs", "-o", "size=256m", "tmpfs", root.sources])
        let skeleton = try KernelSkeleton.kconfig.tree()
        let tree = root.mountPoint(version)
        try copyTree(skeleton, to: tree)

        try killWhileDeleting(from: tree, ["adopt", "--root", root.path, "--kernel", version, "--quiet"], watching: skeleton) {
            expectSuccess(try root.ksqsh("umount", kernel: version))
            try restore(tree, from: skeleton, removing: [root.image(version), root.buildDirectory(version), root.symlink])
        }
        let killedImage = try FS.readFile(root.image(version))
        #expect(FS.exists(root.sources / ByteString(".linux-\(version).sqfs.delete-source")))
        #expect(!root.isMounted(version))

        let rerun = try root.ksqsh("adopt", kernel: version, ["--quiet"], timeout: .seconds(240))
        expectCompleted(rerun, printing: ["\(root.image(version)):", "\(root.buildDirectory(version)): configured from"])
        #expect(try FS.readFile(root.image(version)) == killedImage, "the verified image is kept")
        #expect(root.isMounted(version), "the tree dir is now the image's mount: \(root.mounts)")
        #expect(try FS.readFile(tree / "Makefile") == FS.readFile(skeleton / "Makefile"))
        #expect(FS.exists(root.buildDirectory(version) / ".config"))
        #expect(!FS.exists(root.sources / ByteString(".linux-\(version).sqfs.delete-source")), "the marker is gone")
        print("reliability-summary\tresume deletion: ksqsh adopt\t1\t\(rerun.succeeded && root.isMounted(version) ? 1 : 0)\tSIGKILL while deleting, adopt run again")
    }
}

/// Runs ksqsh with `arguments` and SIGKILLs it once the regular file a third
/// of the way through the deletion order (taken from `reference`, a copy of
/// the tree at `tree`) has been deleted.
///
/// Deleting a few thousand files on a tmpfs takes milliseconds, and on a busy
/// machine the watcher can sleep through all of it. A run that finished is
/// therefore undone by `reset` (which restores the tree and removes what the
/// run made) and tried again, up to three times.
func killWhileDeleting(
    from tree: ByteString, _ arguments: [ByteString], environment: [String: String?] = [:],
    watching reference: ByteString, reset: () throws -> Void
) throws {
    let order = try KillLab.regularFilesInPreorder(reference, relative: nil)
    let sample = tree / order[order.count / 3]
    let attempts = 3
    for attempt in 1...attempts {
        let child = try ChildProcess(try Ksqsh.binary(), arguments, environment: environment)
        while child.isRunning {
            if !FS.exists(sample) {
                child.send(SIGKILL)
                break
            }
            usleep(500)
        }
        let result = child.wait(timeout: .seconds(120))
        if result.termination == .signaled(SIGKILL) { return }
        guard result.succeeded, attempt < attempts else {
            throw TestSetupError("ksqsh was meant to be killed while deleting (attempt \(attempt) of \(attempts)): \(result)")
        }
        print("resume deletion: ksqsh finished before \(sample) was seen gone; again (attempt \(attempt + 1) of \(attempts))")
        try reset()
    }
}

/// Puts a fresh copy of `master` at `tree` after removing `leftovers` (what
/// a finished run made), for another try at killing it.
private func restore(_ tree: ByteString, from master: ByteString, removing leftovers: [ByteString]) throws {
    for path in leftovers + [tree] where FS.exists(path) {
        try Subprocess.runChecked("rm", ["-rf", "--one-file-system", "--", path])
    }
    try copyTree(master, to: tree)
}
