import Glibc
import Testing

extension LifecycleTests {
    /// `ksqsh slim` on a build dir laid out as kbuild leaves one after
    /// `make && make modules_install`: which entries stay, what --pretend
    /// reports, and the refusals. The real build and an external module
    /// built against the slim dir are in LifecycleSlimBuildTests.
    @Suite("ksqsh slim: what stays")
    struct SlimKeeps {
        let version = LifecycleRoot.version

        private func builtRoot(_ label: String, installModules: Bool = true) throws -> LifecycleRoot {
            let root = try LifecycleRoot(label)
            try BuiltDirectory.make(in: root, installModules: installModules)
            return root
        }

        @Test("a built dir keeps .config, Makefile, source, Module.symvers, System.map, include/, arch/*/include/, the scripts/ programs, signing keys and objtool; --pretend changes nothing and reports the same")
        func keepsWhatModulesNeed() throws {
            let root = try builtRoot("slim-keeps")
            defer { root.tearDown() }
            let build = root.buildDirectory()
            let config = try FS.readFile(build / ".config")
            let before = try TreeListing.take(build)

            let pretended = try root.ksqsh("slim", kernel: version, ["--pretend"])
            expectCompleted(pretended, printing: ["\(build): ", "would remove "])
            #expect(try TreeListing.take(build).changes(to: before).isEmpty, "--pretend must change nothing")

            let slimmed = try root.ksqsh("slim", kernel: version)
            expectCompleted(slimmed, printing: ["\(build): ", "removed "])
            #expect(
                pretended.stdoutText.replacingOccurrences(of: "would remove", with: "removed") == slimmed.stdoutText,
                "--pretend reports what slim then does:\n\(pretended.stdoutText)\(slimmed.stdoutText)")

            let left = Set(try TreeListing.take(build).entries.keys)
            for (path, kept) in BuiltDirectory.files {
                #expect(left.contains(path) == kept, "\(path) should be \(kept ? "kept" : "removed")")
            }
            let sourceLink = try FS.readlink(build / "source")
            #expect(left.contains("source") && sourceLink == root.mountPoint(), "the source link stays as it was")
            #expect(left.contains("include/generated/empty"), "an empty dir in a kept tree stays")
            for gone: ByteString in ["kernel", "drivers", "drivers/net", "lib", "lib/empty", "arch/x86/boot", "arch/x86/kernel", "tools/objtool/libsubcmd"] {
                #expect(!left.contains(gone), "\(gone) is left empty, so it goes")
            }
            #expect(try FS.readFile(build / ".config") == config, ".config is never touched")

            let again = try root.ksqsh("slim", kernel: version)
            expectCompleted(again, printing: ["removed 0.0 MB in 0 inodes"])
        }

        @Test("a configured dir without a finished build is refused (exit 72), nothing changes; --force slims it")
        func refusesWithoutBuild() throws {
            let root = try builtRoot("slim-unbuilt")
            defer { root.tearDown() }
            let build = root.buildDirectory()
            for name: ByteString in ["vmlinux", "System.map", "Module.symvers"] { try FS.unlink(build / name) }
            let before = try root.snapshot()

            let refused = try root.ksqsh("slim", kernel: version)
            expectRefusal(refused, exit: Ksqsh.Exit.buildIncomplete, naming: [build], in: root, before: before)
            #expect(refused.stderrText.contains("--force"), "\(refused)")

            expectCompleted(try root.ksqsh("slim", kernel: version, ["--force"]))
            #expect(!FS.exists(build / "kernel/fork.o"))
            #expect(FS.exists(build / ".config"))
        }

        @Test("a process working in the build dir (a make, say) is refused (exit 65), nothing changes; a shell that runs ksqsh from inside it, as make install runs installkernel, is not")
        func refusesWhileInUse() throws {
            let root = try builtRoot("slim-busy")
            defer { root.tearDown() }
            let build = root.buildDirectory()
            let holder = try BusyHolder(workingDirectory: build)
            defer { holder.stop() }
            let before = try root.snapshot()

            let refused = try root.ksqsh("slim", kernel: version)
            expectRefusal(refused, exit: Ksqsh.Exit.mountBusy, naming: [build], in: root, before: before)
            #expect(refused.stderrText.contains("sleep (pid \(holder.pid))"), "\(refused)")
            holder.stop()

            let script: ByteString = #"cd "$1" && "$2" slim --root "$3" --kernel "$4"; exit $?"#
            let fromInside = try Subprocess.run("/bin/sh", ["-c", script, "sh", build, try Ksqsh.binary(), root.path, version])
            expectCompleted(fromInside, printing: ["removed "])
            #expect(!FS.exists(build / "vmlinux"))
        }

        @Test("modules built but not installed in ROOT/lib/modules/RELEASE are refused (exit 72), nothing changes")
        func refusesUninstalledModules() throws {
            let root = try builtRoot("slim-uninstalled", installModules: false)
            defer { root.tearDown() }
            let before = try root.snapshot()
            let installed = root["lib/modules"] / ByteString(BuiltDirectory.release)

            let refused = try root.ksqsh("slim", kernel: version)
            expectRefusal(refused, exit: Ksqsh.Exit.buildIncomplete, naming: [installed], in: root, before: before)
            #expect(refused.stderrText.contains("modules_install"), "\(refused)")
        }

        @Test("a build dir that is a symlink is refused (exit 67), its target untouched; no build dir: exit 10")
        func refusesSymlinkAndMissing() throws {
            let root = try LifecycleRoot("slim-symlink")
            defer { root.tearDown() }
            let elsewhere = root["elsewhere"]
            try root.write(elsewhere / ".config", Array("CONFIG_MODULES=y\n".utf8))
            try root.write(elsewhere / "vmlinux", [1])
            try root.write(elsewhere / "kernel/fork.o", [1])

            let missing = try root.ksqsh("slim", kernel: version)
            #expect(missing.exitCode == 10 && missing.stderrText.contains("ksqsh prepare"), "\(missing)")

            try FS.symlink(target: elsewhere, at: root.buildDirectory())
            let before = try root.snapshot()
            let refused = try root.ksqsh("slim", kernel: version, ["--force"])
            expectRefusal(refused, exit: Ksqsh.Exit.pathRefused, naming: [root.buildDirectory()], in: root, before: before)
        }
    }
}

/// A build dir as kbuild leaves it after `make && make modules_install`:
/// its files with placeholder content, the `source` link, an empty
/// directory in a kept tree and one elsewhere, and (unless told otherwise)
/// the modules' directory ROOT/lib/modules/RELEASE.
enum BuiltDirectory {
    static let release = "6.12.10-gentoo"

    /// Each entry with whether slim keeps it.
    static let files: [(path: ByteString, kept: Bool)] = [
        (".config", true), ("Makefile", true), ("Module.symvers", true), ("System.map", true), (".version", true),
        ("vmlinux", false), ("vmlinux.o", false), ("modules.order", false), (".vmlinux.cmd", false),
        ("kernel/fork.o", false), ("kernel/.fork.o.cmd", false), ("drivers/net/dummy.ko", false),
        ("arch/x86/boot/bzImage", false), ("arch/x86/kernel/head_64.o", false),
        ("arch/x86/include/generated/asm/syscalls_64.h", true), ("arch/x86/include/generated/uapi/asm/unistd_64.h", true),
        ("include/config/auto.conf", true), ("include/config/auto.conf.cmd", true), ("include/config/kernel.release", true),
        ("include/config/rustc_cfg", true), ("include/config/MODULES", false), ("include/config/X86_64", false),
        ("include/generated/autoconf.h", true), ("include/generated/.compile.h.cmd", false),
        ("scripts/basic/fixdep", true), ("scripts/basic/.fixdep.cmd", false), ("scripts/mod/modpost", true),
        ("scripts/mod/modpost.o", false), ("scripts/mod/.modpost.o.d", false), ("scripts/module.lds", true),
        ("certs/signing_key.pem", true), ("certs/signing_key.x509", true), ("certs/x509.genkey", false), ("certs/system_keyring.o", false),
        ("tools/objtool/objtool", true), ("tools/objtool/libsubcmd/exec-cmd.o", false), ("tools/objtool/.objtool.cmd", false),
    ]

    static func make(in root: LifecycleRoot, installModules: Bool = true) throws {
        let build = root.buildDirectory()
        for (path, _) in files {
            try root.write(build / path, path == "include/config/kernel.release" ? Array("\(release)\n".utf8) : Array("content of \(path)\n".utf8))
        }
        try root.write(build / ".config", Array("CONFIG_LOCALVERSION=\"-gentoo\"\nCONFIG_MODULES=y\n".utf8))
        try FS.symlink(target: root.mountPoint(), at: build / "source")
        try FS.mkdirs(build / "include/generated/empty")
        try FS.mkdirs(build / "lib/empty")
        if installModules { try FS.mkdirs(root["lib/modules"] / ByteString(release)) }
    }
}
