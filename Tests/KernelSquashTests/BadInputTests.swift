import Glibc
import Testing

/// Every subcommand against hostile input, as one table: missing and extra
/// arguments, missing paths, a file where a directory belongs and back,
/// relative paths, names with spaces, newlines, quotes, `$`, `*` and bytes
/// that are not UTF-8, shell metacharacters in KV_FULL through the generated
/// hook, symlinks leading out of usr/src, `--root /`, and the unprivileged
/// user. A failing row must exit with its documented status and exactly one
/// line on stderr naming the path, with nothing under the temp ROOT changed
/// (a recursive listing with modes, sizes, mtimes and symlink targets, and
/// the mounts). A valid input with odd bytes must work.
///
/// Usage errors of squash and verify alone are in CommandLineTests; the
/// symlinked build dir for prepare/clean and the symlinked mount point for
/// mount are in the Lifecycle suites.
@Suite(
    "Bad input to every subcommand", .serialized, .hangGuard,
    .enabled(if: Requirements.isRoot && Mounts.canLoopMount, "needs root and loop devices (rows mount, and run as nobody)"))
struct BadInputTests {
    @Test("The bad-input table: documented status, one line naming the path, nothing else changed; odd but valid names work")
    func table() throws {
        let rows = BadInputTable.rows
        var passed = 0
        for row in rows {
            let problems = BadInputTable.run(row)
            for problem in problems { Issue.record("\(row): \(problem)") }
            if problems.isEmpty { passed += 1 }
        }
        let subcommands = Set(rows.map(\.subcommand)).count
        print("reliability-summary\tbad input\t\(rows.count)\t\(passed)\t\(subcommands) subcommands")
    }

    @Test("--root / : status reads the real system and changes nothing there")
    func statusOfTheRealRoot() throws {
        // Only a read-only command may run against the real root.
        let watched: [ByteString] = ["/usr/src", "/etc/kernels"].filter { FS.isDirectory($0) }
        let before = try watched.map(TreeListing.take)
        // Other suites mount and unmount in their scratch directories meanwhile.
        let systemMounts = { MountInfo.entries().filter { !TemporaryDirectory.isScratch($0.target) }.map(\.description) }
        let mountsBefore = systemMounts()
        for arguments in [["status", "--root", "/"], ["status", "--root", "/", "--json"]] as [[ByteString]] {
            let result = try Ksqsh.run(arguments)
            expectSuccess(result)
            #expect(result.stderr.isEmpty, "\(result)")
        }
        for (path, listing) in zip(watched, before) {
            let changes = listing.changes(to: try TreeListing.take(path))
            #expect(changes.isEmpty, "status --root / changed \(path):\n\(changes.joined(separator: "\n"))")
        }
        #expect(systemMounts() == mountsBefore, "status --root / changed the mounts")
    }
}


/// The rows, one group per subcommand. Paths are built inside the scene's
/// ROOT so its listing covers everything a row could touch.
extension BadInputTable {
    static let notRoot = Ksqsh.Exit.notRoot
    static let kv = BadInputScene.version
    static var linuxKV: ByteString { "usr/src/linux-" + kv }
    static var buildKV: ByteString { "usr/src/build-" + kv }
    static var imageKV: ByteString { "usr/src/linux-" + kv + ".sqfs" }

    static var rows: [BadInputRow] {
        squashRows + verifyRows + mountRows + umountRows + prepareRows + cleanRows + slimRows + installkernelRows + statusRows + adoptRows
            + hookRows + hooksInstallRows + hooksRemoveRows + hooksPrintRows
    }

    /// A row that only needs its arguments (usage errors, missing paths).
    static func row(
        _ subcommand: String, _ situation: String, exit: Int32, user: BadInputRow.User = .root,
        _ setUp: @escaping @Sendable (BadInputScene) throws -> Invocation
    ) -> BadInputRow {
        BadInputRow(subcommand: subcommand, situation: situation, user: user, exit: exit, setUp: setUp)
    }

    // MARK: squash

    static var squashRows: [BadInputRow] {
        var rows: [BadInputRow] = []
        for (label, name) in HostileName.all {
            rows.append(row("squash", "a tree named \(label) (and holding that name): squashed, then verified against it", exit: 0) { scene in
                let tree = try scene.tree(name)
                let image = scene[name + ".sqfs"]
                return Invocation(arguments: ["squash", tree, image, "--quiet"], changes: [name + ".sqfs"]) { _ in
                    let verify = try Ksqsh.verify(image, against: tree)
                    return verify.succeeded ? [] : ["the image does not verify against its tree: \(verify)"]
                }
            })
            rows.append(row("squash", "SRC named \(label) does not exist", exit: Ksqsh.Exit.sourceMissing) { scene in
                Invocation(arguments: ["squash", scene[name], scene["out.sqfs"]], naming: scene[name])
            })
        }
        rows += [
            row("squash", "SRC is a regular file with odd bytes in its name", exit: Ksqsh.Exit.sourceNotDirectory) { scene in
                let file = scene[HostileName.nonUTF8.name]
                try FS.writeFile(file, Array("a file\n".utf8))
                return Invocation(arguments: ["squash", file, scene["out.sqfs"]], naming: file)
            },
            row("squash", "IMAGE's directory is a regular file", exit: Ksqsh.Exit.imageDirectoryMissing) { scene in
                let tree = try scene.tree("tree")
                try FS.writeFile(scene["a file"], [])
                return Invocation(arguments: ["squash", tree, scene["a file"] / "out.sqfs"], naming: scene["a file"])
            },
            row("squash", "IMAGE is a FIFO", exit: Ksqsh.Exit.imageExists) { scene in
                let tree = try scene.tree("tree")
                try FS.mkfifo(scene["fifo.sqfs"])
                return Invocation(arguments: ["squash", tree, scene["fifo.sqfs"]], naming: scene["fifo.sqfs"])
            },
            row("squash", "relative SRC and IMAGE", exit: 0) { scene in
                try scene.tree("rel tree")
                return Invocation(arguments: ["squash", "rel tree", "rel.sqfs", "--quiet"], changes: ["rel.sqfs"], workingDirectory: ".")
            },
            row("squash", "relative SRC that does not exist", exit: Ksqsh.Exit.sourceMissing) { _ in
                Invocation(arguments: ["squash", "no such tree", "rel.sqfs"], naming: "no such tree", workingDirectory: ".")
            },
            row("squash", "a readable tree into a writable directory", exit: 0, user: .nobody) { scene in
                let tree = try scene.tree("tree")
                try FS.mkdir(scene["out"], mode: 0o777)
                try FS.chmod(scene["out"], 0o777)
                return Invocation(arguments: ["squash", tree, scene["out/image.sqfs"], "--quiet"], changes: ["out"])
            },
        ]
        return rows
    }

    // MARK: verify

    static var verifyRows: [BadInputRow] {
        var rows: [BadInputRow] = HostileName.all.map { label, name in
            row("verify", "IMAGE named \(label) does not exist", exit: Ksqsh.Exit.imageUnreadable) { scene in
                Invocation(arguments: ["verify", scene[name + ".sqfs"]], naming: scene[name + ".sqfs"])
            }
        }
        rows += [
            row("verify", "IMAGE is a directory", exit: Ksqsh.Exit.imageUnreadable) { scene in
                try FS.mkdir(scene["dir.sqfs"])
                return Invocation(arguments: ["verify", scene["dir.sqfs"]], naming: scene["dir.sqfs"])
            },
            row("verify", "IMAGE is a FIFO (must not wait for a writer)", exit: Ksqsh.Exit.imageUnreadable) { scene in
                try FS.mkfifo(scene["fifo.sqfs"])
                return Invocation(arguments: ["verify", scene["fifo.sqfs"]], naming: scene["fifo.sqfs"])
            },
            row("verify", "IMAGE is a text file", exit: Ksqsh.Exit.imageUnreadable) { scene in
                try FS.writeFile(scene["text.sqfs"], Array(String(repeating: "not squashfs\n", count: 100).utf8))
                return Invocation(arguments: ["verify", scene["text.sqfs"]], naming: scene["text.sqfs"])
            },
            row("verify", "SRC does not exist", exit: Ksqsh.Exit.sourceMissing) { scene in
                let name = HostileName.utf8.last!.name
                return Invocation(arguments: ["verify", try scene.image("tree"), scene[name]], naming: scene[name])
            },
            row("verify", "SRC is a regular file", exit: Ksqsh.Exit.sourceNotDirectory) { scene in
                try FS.writeFile(scene["a file"], [])
                return Invocation(arguments: ["verify", try scene.image("tree"), scene["a file"]], naming: scene["a file"])
            },
            row("verify", "an extra argument", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["verify", try scene.image("tree"), scene["tree"], "extra"], naming: "extra")
            },
            row("verify", "relative IMAGE and SRC", exit: 0) { scene in
                try scene.image("rel tree")
                return Invocation(arguments: ["verify", "rel tree.sqfs", "rel tree", "--quiet"], workingDirectory: ".")
            },
            row("verify", "a readable image against its tree", exit: 0, user: .nobody) { scene in
                Invocation(arguments: ["verify", try scene.image(HostileName.nonUTF8.name), scene[HostileName.nonUTF8.name], "--quiet"])
            },
        ]
        return rows
    }

    // MARK: mount, umount

    static func isMounted(under kernelRoot: ByteString) -> Bool {
        MountInfo.entries().contains { $0.target == kernelRoot / linuxKV && $0.fileSystem == "squashfs" }
    }

    static var mountRows: [BadInputRow] {
        var rows: [BadInputRow] = HostileName.utf8.map { label, name in
            row("mount", "--root named \(label): mounted", exit: 0) { scene in
                let kernelRoot = try scene.kernelRoot(name)
                return Invocation(arguments: ["mount", "--root", kernelRoot], changes: [name]) { _ in
                    isMounted(under: kernelRoot) ? [] : ["nothing mounted at \(kernelRoot / linuxKV)"]
                }
            }
        }
        rows += rootOptionRows("mount")
        rows += [
            row("mount", "an extra argument", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["mount", "--root", try scene.kernelRoot(), "extra"], naming: "extra")
            },
            row("mount", "relative --root", exit: 0) { scene in
                try scene.kernelRoot("kernel root")
                return Invocation(arguments: ["mount", "--root", "kernel root"], changes: ["kernel root"], workingDirectory: ".") { _ in
                    isMounted(under: scene["kernel root"]) ? [] : ["nothing mounted"]
                }
            },
            row("mount", "no image under ROOT", exit: Ksqsh.Exit.kernelVersionUnknown) { scene in
                Invocation(arguments: ["mount", "--root", scene.path], naming: scene["usr/src"])
            },
            row("mount", "the image is a directory", exit: Ksqsh.Exit.mountFailed) { scene in
                try FS.mkdir(scene[imageKV])
                return Invocation(arguments: ["mount", "--root", scene.path, "--kernel", kv], naming: scene[imageKV])
            },
            row("mount", "the image is a FIFO", exit: Ksqsh.Exit.mountFailed) { scene in
                try FS.mkfifo(scene[imageKV])
                return Invocation(arguments: ["mount", "--root", scene.path, "--kernel", kv], naming: scene[imageKV])
            },
            row("mount", "the mount point is a regular file", exit: Ksqsh.Exit.pathRefused) { scene in
                try scene.kernelRoot()
                try FS.writeFile(scene[linuxKV], [])
                return Invocation(arguments: ["mount", "--root", scene.path], naming: scene[linuxKV])
            },
            row("mount", "--kernel with shell metacharacters", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["mount", "--root", try scene.kernelRoot(), "--kernel", "6.12$(touch pwned)"], naming: "6.12$(touch pwned)", workingDirectory: ".")
            },
            row("mount", "an image under ROOT", exit: notRoot, user: .nobody) { scene in
                Invocation(arguments: ["mount", "--root", try scene.kernelRoot()])
            },
        ]
        return rows
    }

    /// --root that is missing, a file, or not UTF-8: refused as usage errors.
    static func rootOptionRows(_ subcommand: ByteString...) -> [BadInputRow] {
        let name = subcommand.map(\.description).joined(separator: " ")
        return [
            row(name, "--root does not exist", exit: Ksqsh.Exit.usage) { scene in
                let missing = scene[HostileName.utf8.last!.name]
                return Invocation(arguments: subcommand + ["--root", missing], naming: missing)
            },
            row(name, "--root is a regular file", exit: Ksqsh.Exit.usage) { scene in
                try FS.writeFile(scene["a file"], [])
                return Invocation(arguments: subcommand + ["--root", scene["a file"]], naming: scene["a file"])
            },
            row(name, "--root is not UTF-8", exit: Ksqsh.Exit.usage) { scene in
                let root = scene[HostileName.nonUTF8.name]
                try FS.mkdirs(root / "usr/src")
                return Invocation(arguments: subcommand + ["--root", root], naming: root)
            },
        ]
    }

    static var umountRows: [BadInputRow] {
        var rows: [BadInputRow] = HostileName.utf8.map { label, name in
            row("umount", "--root named \(label): unmounted, mount point removed", exit: 0) { scene in
                let kernelRoot = try scene.kernelRoot(name)
                try mountChecked(kernelRoot)
                return Invocation(arguments: ["umount", "--root", kernelRoot], changes: [name]) { _ in
                    var problems: [String] = []
                    if isMounted(under: kernelRoot) { problems.append("still mounted") }
                    if FS.exists(kernelRoot / linuxKV) { problems.append("the mount point is still there") }
                    if !FS.exists(kernelRoot / imageKV) { problems.append("the image is gone") }
                    return problems
                }
            }
        }
        rows += rootOptionRows("umount")
        rows += [
            row("umount", "an extra argument", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["umount", "--root", try scene.kernelRoot(), "extra"], naming: "extra")
            },
            row("umount", "the mount point is a symlink to a directory outside usr/src: not followed", exit: 0) { scene in
                try scene.kernelRoot()
                try scene.tree("outside")
                try FS.symlink(target: "../../outside", at: scene[linuxKV])
                return Invocation(arguments: ["umount", "--root", scene.path])
            },
            row("umount", "a mounted image", exit: notRoot, user: .nobody) { scene in
                try mountChecked(try scene.kernelRoot())
                return Invocation(arguments: ["umount", "--root", scene.path])
            },
        ]
        return rows
    }

    static func mountChecked(_ kernelRoot: ByteString) throws {
        let mounted = try Ksqsh.run(["mount", "--root", kernelRoot])
        guard mounted.succeeded else { throw TestSetupError("setup mount failed: \(mounted)") }
    }

    // MARK: prepare, clean, adopt

    static var prepareRows: [BadInputRow] {
        var rows: [BadInputRow] = HostileName.utf8.map { label, name in
            row("prepare", "--root named \(label), where the kernel's make cannot build: refused before anything changes", exit: Ksqsh.Exit.pathRefused) { scene in
                let kernelRoot = try scene.kernelRoot(name)
                return Invocation(arguments: ["prepare", "--root", kernelRoot], naming: kernelRoot / linuxKV)
            }
        }
        rows += rootOptionRows("prepare")
        rows += [
            row("prepare", "an extra argument", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["prepare", "--root", try scene.kernelRoot(), "extra"], naming: "extra")
            },
            row("prepare", "--config does not exist: no mount, no build dir left behind", exit: Ksqsh.Exit.sourceMissing) { scene in
                let config = scene[HostileName.nonUTF8.name]
                return Invocation(arguments: ["prepare", "--root", try scene.kernelRoot(), "--config", config], naming: config)
            },
            row("prepare", "--config is a directory", exit: Ksqsh.Exit.sourceUnreadable) { scene in
                try FS.mkdir(scene["config dir"])
                return Invocation(arguments: ["prepare", "--root", try scene.kernelRoot(), "--config", scene["config dir"]], naming: scene["config dir"])
            },
            row("prepare", "--config is a FIFO (must not wait for a writer)", exit: Ksqsh.Exit.sourceUnreadable) { scene in
                try FS.mkfifo(scene["config.fifo"])
                return Invocation(arguments: ["prepare", "--root", try scene.kernelRoot(), "--config", scene["config.fifo"]], naming: scene["config.fifo"])
            },
            row("prepare", "the build dir is a regular file", exit: Ksqsh.Exit.pathRefused) { scene in
                try scene.kernelRoot()
                try FS.writeFile(scene[buildKV], [])
                return Invocation(arguments: ["prepare", "--root", scene.path], naming: scene[buildKV])
            },
            row("prepare", "the mount point is a symlink to a tree outside usr/src: not followed", exit: Ksqsh.Exit.pathRefused) { scene in
                try scene.kernelRoot()
                try scene.tree("outside")
                try FS.symlink(target: "../../outside", at: scene[linuxKV])
                return Invocation(arguments: ["prepare", "--root", scene.path], naming: scene[linuxKV])
            },
            row("prepare", "no image under ROOT", exit: Ksqsh.Exit.kernelVersionUnknown) { scene in
                Invocation(arguments: ["prepare", "--root", scene.path], naming: scene["usr/src"])
            },
            row("prepare", "an image under ROOT", exit: notRoot, user: .nobody) { scene in
                Invocation(arguments: ["prepare", "--root", try scene.kernelRoot()])
            },
        ]
        if LifecycleRequirements.hasKernelBuildTools {
            rows.append(row("prepare", "--root and --config with non-ASCII UTF-8, '#', '@' and '+' (all fine for kbuild): configured", exit: 0) { scene in
                let name: ByteString = "ünï#cødé@v+1"
                let kernelRoot = scene[name]
                try FS.mkdirs(kernelRoot / "usr/src")
                try FS.writeFile(kernelRoot / imageKV, try FS.readFile(try KernelSkeleton.kconfig.image()))
                try FS.writeFile(scene[name + ".config"], KernelConfig.withMarker("oddroot"))
                return Invocation(arguments: ["prepare", "--root", kernelRoot, "--config", scene[name + ".config"]], changes: [name]) { _ in
                    KernelConfig.localVersion(of: kernelRoot / buildKV / ".config") == "-oddroot" ? [] : ["the build dir's .config does not carry the given config"]
                }
            })
        }
        return rows
    }

    static var cleanRows: [BadInputRow] {
        var rows: [BadInputRow] = HostileName.utf8.map { label, name in
            row("clean", "--root named \(label): .config saved, build dir removed, unmounted", exit: 0) { scene in
                let kernelRoot = try scene.kernelRoot(name)
                try mountChecked(kernelRoot)
                try FS.mkdir(kernelRoot / buildKV)
                try FS.writeFile(kernelRoot / buildKV / ".config", KernelConfig.withMarker("clean"))
                return Invocation(arguments: ["clean", "--root", kernelRoot], changes: [name]) { _ in
                    var problems: [String] = []
                    if KernelConfig.localVersion(of: kernelRoot / "etc/kernels/kernel-config-" + kv) != "-clean" { problems.append("the .config was not saved") }
                    if FS.exists(kernelRoot / buildKV) { problems.append("the build dir is still there") }
                    if isMounted(under: kernelRoot) { problems.append("still mounted") }
                    return problems
                }
            }
        }
        rows += rootOptionRows("clean")
        rows += [
            row("clean", "an extra argument", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["clean", "--root", try scene.kernelRoot(), "extra"], naming: "extra")
            },
            row("clean", "no image and no --kernel", exit: Ksqsh.Exit.kernelVersionUnknown) { scene in
                Invocation(arguments: ["clean", "--root", scene.path], naming: scene["usr/src"])
            },
            row("clean", "the build dir is a regular file", exit: Ksqsh.Exit.pathRefused) { scene in
                try scene.kernelRoot()
                try FS.writeFile(scene[buildKV], Array("not a build dir\n".utf8))
                return Invocation(arguments: ["clean", "--root", scene.path], naming: scene[buildKV])
            },
            row("clean", "a build dir with a .config", exit: notRoot, user: .nobody) { scene in
                try scene.kernelRoot()
                try FS.mkdir(scene[buildKV])
                try FS.writeFile(scene[buildKV] / ".config", KernelConfig.withMarker("nobody"))
                return Invocation(arguments: ["clean", "--root", scene.path])
            },
            row("clean", "--pretend lists the steps without root", exit: 0, user: .nobody) { scene in
                try scene.kernelRoot()
                try FS.mkdir(scene[buildKV])
                try FS.writeFile(scene[buildKV] / ".config", KernelConfig.withMarker("nobody"))
                return Invocation(arguments: ["clean", "--root", scene.path, "--pretend"]) { result in
                    result.stdoutText.contains("would remove") ? [] : ["--pretend did not list the removal"]
                }
            },
        ]
        return rows
    }

    static var slimRows: [BadInputRow] {
        /// A build dir as a finished build leaves it, modules not built.
        @Sendable func builtDirectory(_ scene: BadInputScene) throws {
            try scene.kernelRoot()
            try FS.mkdir(scene[buildKV])
            try FS.writeFile(scene[buildKV] / ".config", KernelConfig.withMarker("slim"))
            try FS.writeFile(scene[buildKV] / "vmlinux", Array("a kernel\n".utf8))
        }
        return rootOptionRows("slim") + [
            row("slim", "an extra argument", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["slim", "--root", try scene.kernelRoot(), "extra"], naming: "extra")
            },
            row("slim", "no build dir", exit: Ksqsh.Exit.sourceMissing) { scene in
                try scene.kernelRoot()
                return Invocation(arguments: ["slim", "--root", scene.path], naming: scene[buildKV])
            },
            row("slim", "the build dir is a regular file", exit: Ksqsh.Exit.pathRefused) { scene in
                try scene.kernelRoot()
                try FS.writeFile(scene[buildKV], Array("not a build dir\n".utf8))
                return Invocation(arguments: ["slim", "--root", scene.path], naming: scene[buildKV])
            },
            row("slim", "a build dir without .config", exit: Ksqsh.Exit.buildIncomplete) { scene in
                try scene.kernelRoot()
                try FS.mkdir(scene[buildKV])
                return Invocation(arguments: ["slim", "--root", scene.path], naming: scene[buildKV])
            },
            row("slim", "a built dir, not root", exit: notRoot, user: .nobody) { scene in
                try builtDirectory(scene)
                return Invocation(arguments: ["slim", "--root", scene.path])
            },
            row("slim", "--pretend measures without root", exit: 0, user: .nobody) { scene in
                try builtDirectory(scene)
                return Invocation(arguments: ["slim", "--root", scene.path, "--pretend"]) { result in
                    result.stdoutText.contains("would remove") && FS.exists(scene[buildKV] / "vmlinux") ? [] : ["--pretend did not measure, or removed vmlinux"]
                }
            },
        ]
    }

    static var installkernelRows: [BadInputRow] {
        [
            row("installkernel", "a release that could name another path", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["installkernel", "--root", try scene.kernelRoot(), "../../etc"], naming: "../../etc")
            },
            row("installkernel", "not root", exit: notRoot, user: .nobody) { scene in
                Invocation(arguments: ["installkernel", "--root", try scene.kernelRoot(), kv, "/boot/vmlinuz-" + kv])
            },
        ]
    }

    static var adoptRows: [BadInputRow] {
        rootOptionRows("adopt") + [
            row("adopt", "--kernel missing", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["adopt", "--root", scene.path], naming: "--kernel")
            },
            row("adopt", "an extra argument", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["adopt", "--root", scene.path, "--kernel", kv, "extra"], naming: "extra")
            },
            row("adopt", "no unpacked tree at linux-KV", exit: Ksqsh.Exit.sourceMissing) { scene in
                Invocation(arguments: ["adopt", "--root", scene.path, "--kernel", kv], naming: scene[linuxKV])
            },
            row("adopt", "linux-KV is a regular file", exit: Ksqsh.Exit.sourceMissing) { scene in
                try FS.writeFile(scene[linuxKV], [])
                return Invocation(arguments: ["adopt", "--root", scene.path, "--kernel", kv], naming: scene[linuxKV])
            },
            row("adopt", "linux-KV is a symlink to a tree outside usr/src: not followed, the tree untouched", exit: Ksqsh.Exit.sourceMissing) { scene in
                try scene.tree("outside")
                try FS.symlink(target: "../../outside", at: scene[linuxKV])
                return Invocation(arguments: ["adopt", "--root", scene.path, "--kernel", kv], naming: scene[linuxKV])
            },
            row("adopt", "ROOT with a space: refused before the tree is squashed and emptied", exit: Ksqsh.Exit.pathRefused) { scene in
                let kernelRoot = scene["with space"]
                try FS.mkdirs(kernelRoot / "usr/src")
                try scene.tree("with space" / linuxKV)
                return Invocation(arguments: ["adopt", "--root", kernelRoot, "--kernel", kv], naming: kernelRoot / linuxKV)
            },
            row("adopt", "an unpacked tree", exit: notRoot, user: .nobody) { scene in
                try scene.tree(linuxKV)
                return Invocation(arguments: ["adopt", "--root", scene.path, "--kernel", kv])
            },
        ]
    }

    // MARK: status

    static var statusRows: [BadInputRow] {
        var rows: [BadInputRow] = HostileName.utf8.map { label, name in
            row("status", "--root named \(label)", exit: 0) { scene in
                let kernelRoot = try scene.kernelRoot(name)
                return Invocation(arguments: ["status", "--root", kernelRoot, "--json"], check: statusNames(kv))
            }
        }
        rows += rootOptionRows("status")
        rows += [
            row("status", "an extra argument", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["status", "--root", scene.path, "extra"], naming: "extra")
            },
            row("status", "relative --root", exit: 0) { scene in
                try scene.kernelRoot("kernel root")
                return Invocation(arguments: ["status", "--root", "kernel root", "--json"], workingDirectory: ".", check: statusNames(kv))
            },
            row("status", "a kernel root", exit: 0, user: .nobody) { scene in
                Invocation(arguments: ["status", "--root", try scene.kernelRoot(), "--json"], check: statusNames(kv))
            },
        ]
        return rows
    }

    static func statusNames(_ version: ByteString) -> @Sendable (ProcessResult) throws -> [String] {
        { result in
            let report = try StatusReport.decode(result)
            return report[version.string] == nil ? ["status does not list \(version)"] : []
        }
    }

    // MARK: hook, hooks

    /// Sources a generated env hook with portage's helpers stubbed, sets
    /// ROOT and KV_FULL, and runs one phase's `_ksqsh_hook`.
    static let hookDriver = """
        ebegin() { :; }; eend() { :; }; ewarn() { :; }; eerror() { :; }; die() { exit 1; }
        source "$1" || exit 99
        ROOT=$2 KV_FULL=$3 _ksqsh_hook "$4"
        """

    static var hookRows: [BadInputRow] {
        let hostileVersions: [(String, ByteString)] = [
            ("$(…)", "6.1$(touch pwned)"), ("backquotes", "6.1`touch pwned`"), ("';'", "6.1;touch pwned"),
            ("quotes", "6.1' \"x"), ("a newline", "6.1\ntouch pwned"), ("'../'", "../../../tmp"), ("'*'", "6.1 *"),
        ]
        var rows: [BadInputRow] = hostileVersions.map { label, version in
            row("hook", "KV_FULL with \(label) through the generated hook: refused, nothing run", exit: Ksqsh.Exit.kernelVersionUnknown) { scene in
                let hook = scene["gentoo-sources.hook"]
                let printed = try Ksqsh.run(["hooks", "print", "--helper", try Ksqsh.binary()])
                guard printed.succeeded else { throw TestSetupError("hooks print failed: \(printed)") }
                try FS.writeFile(hook, printed.stdout)
                try scene.kernelRoot()
                return Invocation(
                    arguments: [hook, scene.path, version, "pre_pkg_prerm"], naming: "KV_FULL", workingDirectory: ".", script: hookDriver)
            }
        }
        rows += [
            row("hook", "no phase", exit: Ksqsh.Exit.usage) { _ in Invocation(arguments: ["hook"], naming: "phase") },
            row("hook", "an unknown phase", exit: Ksqsh.Exit.usage) { _ in Invocation(arguments: ["hook", "src_$(id)"], naming: "src_$(id)") },
            row("hook", "an extra argument", exit: Ksqsh.Exit.usage) { _ in Invocation(arguments: ["hook", "pre_pkg_prerm", "extra"], naming: "extra") },
            row("hook", "pre_src_install with a value ksqsh.conf may not hold: refused in one line naming the file, the sources untouched", exit: Ksqsh.Exit.settingInvalid) { scene in
                let workdir = scene.path / "var/tmp/portage/work"
                try scene.root.write(workdir / ("linux-" + kv) / "Makefile", Array("# the sources\n".utf8))
                let settings = scene.path / "etc/ksqsh.conf"
                try scene.root.write(settings, Array("KSQSH_BLOCK_SIZE=3K\n".utf8))
                return Invocation(
                    arguments: ["hook", "pre_src_install"], naming: settings,
                    environment: ["ROOT": scene.path.string, "KV_FULL": kv.string, "WORKDIR": workdir.string, "KSQSH_CONFIG": settings.string])
            },
            row("hook", "post_pkg_postinst with an image to mount", exit: notRoot, user: .nobody) { scene in
                Invocation(
                    arguments: ["hook", "post_pkg_postinst"],
                    environment: ["ROOT": try scene.kernelRoot().string, "KV_FULL": kv.string, "MERGE_TYPE": "source", "PN": "gentoo-sources"])
            },
        ]
        return rows
    }

    /// An executable stand-in for ksqsh at DIR/ksqsh that prints its arguments.
    static func helperStub(in directory: ByteString) throws -> ByteString {
        try FS.mkdirs(directory)
        let stub = directory / "ksqsh"
        try FS.writeFile(stub, Array("#!/bin/sh\nprintf 'stub:%s\\n' \"$*\"\n".utf8), mode: 0o755)
        try FS.chmod(stub, 0o755)
        return stub
    }

    /// The hook text must pass shellcheck and, sourced, call exactly `stub`.
    static func hookCallsStub(_ hook: ByteString) throws -> [String] {
        var problems: [String] = []
        let ran = try Subprocess.run("bash", ["-c", ByteString(hookDriver), "bash", hook, "/", kv, "post_pkg_postinst"])
        if !ran.stdoutText.contains("stub:hook --interface 1 post_pkg_postinst") { problems.append("the hook did not call the helper: \(ran)") }
        if Subprocess.isInstalled("shellcheck") {
            let lint = try Subprocess.run("shellcheck", ["-s", "bash", hook])
            if !lint.succeeded { problems.append("shellcheck: \(lint)") }
        }
        return problems
    }

    static var hooksInstallRows: [BadInputRow] {
        var rows: [BadInputRow] = HostileName.utf8.map { label, name in
            row("hooks install", "--helper in a directory named \(label): the hook calls it", exit: 0) { scene in
                let stub = try helperStub(in: scene[name])
                return Invocation(arguments: ["hooks", "install", "--root", scene.path, "--init", "openrc", "--helper", stub], changes: ["etc"]) { _ in
                    try hookCallsStub(scene["etc/portage/env/sys-kernel/gentoo-sources"])
                }
            }
        }
        rows += rootOptionRows("hooks", "install")
        rows += [
            row("hooks install", "an extra argument", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["hooks", "install", "--root", scene.path, "extra"], naming: "extra")
            },
            row("hooks install", "--package with shell metacharacters", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["hooks", "install", "--root", scene.path, "--package", "x;rm -rf /"], naming: "x;rm -rf /")
            },
            row("hooks install", "--helper whose path is not UTF-8", exit: Ksqsh.Exit.pathRefused) { scene in
                let stub = try helperStub(in: scene[HostileName.nonUTF8.name])
                return Invocation(arguments: ["hooks", "install", "--root", scene.path, "--init", "openrc", "--helper", stub], naming: stub)
            },
            row("hooks install", "a root-owned ROOT", exit: Ksqsh.Exit.writeFailed, user: .nobody) { scene in
                Invocation(arguments: ["hooks", "install", "--root", scene.path], naming: scene["etc"])
            },
        ]
        return rows
    }

    static func installChecked(_ root: ByteString) throws {
        let installed = try Ksqsh.run(["hooks", "install", "--root", root, "--init", "both"])
        guard installed.succeeded else { throw TestSetupError("setup hooks install failed: \(installed)") }
    }

    static var hooksRemoveRows: [BadInputRow] {
        var rows: [BadInputRow] = HostileName.utf8.map { label, name in
            row("hooks remove", "--root named \(label): every file removed", exit: 0) { scene in
                let root = scene[name]
                try FS.mkdirs(root)
                try installChecked(root)
                return Invocation(arguments: ["hooks", "remove", "--root", root], changes: [name]) { _ in
                    FS.exists(root / "etc/portage/env/sys-kernel/gentoo-sources") ? ["the env hook is still there"] : []
                }
            }
        }
        rows += rootOptionRows("hooks", "remove")
        rows += [
            row("hooks remove", "an extra argument", exit: Ksqsh.Exit.usage) { scene in
                Invocation(arguments: ["hooks", "remove", "--root", scene.path, "extra"], naming: "extra")
            },
            row("hooks remove", "hooks installed by root", exit: Ksqsh.Exit.deleteFailed, user: .nobody) { scene in
                try installChecked(scene.path)
                return Invocation(arguments: ["hooks", "remove", "--root", scene.path], naming: scene["etc"])
            },
        ]
        return rows
    }

    static var hooksPrintRows: [BadInputRow] {
        var rows: [BadInputRow] = HostileName.utf8.map { label, name in
            row("hooks print", "--helper in a directory named \(label): the hook calls it", exit: 0) { scene in
                let stub = try helperStub(in: scene[name])
                return Invocation(arguments: ["hooks", "print", "--helper", stub]) { result in
                    let hook = scene["printed.hook"]
                    try FS.writeFile(hook, result.stdout)
                    return try hookCallsStub(hook)
                }
            }
        }
        rows += [
            row("hooks print", "a package name with shell metacharacters", exit: Ksqsh.Exit.usage) { _ in
                Invocation(arguments: ["hooks", "print", "$(id)"], naming: "$(id)")
            },
            row("hooks print", "an extra argument", exit: Ksqsh.Exit.usage) { _ in
                Invocation(arguments: ["hooks", "print", "gentoo-sources", "extra"], naming: "extra")
            },
            row("hooks print", "the default package", exit: 0, user: .nobody) { _ in
                Invocation(arguments: ["hooks", "print"]) { result in
                    result.stdoutText.contains("pre_src_install()") ? [] : ["no hook printed"]
                }
            },
        ]
        return rows
    }
}
