import Foundation
import Glibc
import Testing

extension LifecycleTests {
    /// The whole life on the real linux-source-6.12 image: prepare, a real
    /// build (tinyconfig with modules, the smallest kernel that has
    /// Module.symvers), modules_install, `ksqsh slim`, then an out-of-tree
    /// module built against ROOT/usr/src/linux as linux-mod-r1 builds one.
    @Suite(
        "ksqsh slim after a real build",
        .enabled(if: LifecycleRequirements.hasKernelBuildTools, "needs make, gcc, flex and bison for the kernel's make"),
        .enabled(if: FS.exists(LifecycleRequirements.fullKernelImage), "needs \(LifecycleRequirements.fullKernelImage), which make setup squashes")
    )
    struct SlimBuild {
        let version = LifecycleRoot.version

        /// The kernel's make in the build dir, as a user runs it.
        private func make(_ build: ByteString, _ arguments: [ByteString]) throws {
            try Subprocess.runChecked(
                "make", ["-C", build, "-s"] + arguments,
                environment: ["ARCH": nil, "KBUILD_OUTPUT": nil, "O": nil], timeout: .seconds(900))
        }

        @Test("slim after make && make modules_install keeps .config and Module.symvers; an obj-m module then builds against /usr/src/linux without writing to the build dir")
        func externalModuleBuildsAfterSlim() throws {
            let root = try LifecycleRoot("slim-build")
            defer { root.tearDown() }
            try Subprocess.runChecked("cp", ["--reflink=auto", "--", LifecycleRequirements.fullKernelImage, root.image()], timeout: .seconds(120))
            expectCompleted(try root.ksqsh("prepare", kernel: version, ["--symlink"]))
            let build = root.buildDirectory()
            let source = root.mountPoint()
            try make(build, ["tinyconfig"])
            try Subprocess.runChecked(source / "scripts/config", ["--file", build / ".config", "--enable", "MODULES", "--set-str", "LOCALVERSION", "-gentoo-slim"], timeout: .seconds(30))
            try make(build, ["olddefconfig"])
            try make(build, [ByteString("-j\(ProcessInfo.processInfo.activeProcessorCount)")])
            try make(build, ["modules_install", "INSTALL_MOD_PATH=" + root.path])
            let release = String(decoding: try FS.readFile(build / "include/config/kernel.release"), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let config = try FS.readFile(build / ".config")
            let symvers = try FS.readFile(build / "Module.symvers")
            #expect(String(decoding: symvers, as: UTF8.self).contains("\tmsleep\tvmlinux\t"), "the build exports msleep, which hello.ko calls")

            let slimmed = try root.ksqsh("slim", kernel: version)
            expectCompleted(slimmed, printing: ["\(build): "])
            #expect(!FS.exists(build / "vmlinux") && !FS.exists(build / "init/main.o") && !FS.exists(build / "arch/x86/boot/bzImage"), "the build's products are gone")
            #expect(try FS.readFile(build / ".config") == config, ".config is never touched")
            #expect(try FS.readFile(build / "Module.symvers") == symvers, "Module.symvers stays readable as it was")

            // hello.ko, as an out-of-tree module package builds it.
            let module = root["hello"]
            try root.write(module / "Makefile", Array("obj-m := hello.o\n".utf8))
            try root.write(module / "hello.c", Array(Self.helloSource.utf8))
            let buildBefore = try TreeListing.take(build)
            try Subprocess.runChecked(
                "make", ["-C", root.symlink, "M=" + module, "modules"],
                environment: ["ARCH": nil, "KBUILD_OUTPUT": nil, "O": nil], timeout: .seconds(300))
            let object = String(decoding: try FS.readFile(module / "hello.ko"), as: UTF8.self)
            #expect(object.contains("vermagic=\(release) "), "hello.ko is built for \(release)")
            let changed = buildBefore.changes(to: try TreeListing.take(build))
            #expect(changed.isEmpty, "the module build writes nothing in the slim build dir:\n\(changed.joined(separator: "\n"))")

            let status = try #require(StatusReport.decode(try root.ksqsh("status", ["--json"]))[version.string])
            #expect(status.built == true && status.problems.isEmpty, "status: built, no problems: \(status.problems)")
        }

        static let helloSource = """
            #include <linux/delay.h>
            #include <linux/module.h>

            /* msleep comes from vmlinux: modpost finds it in Module.symvers. */
            static int __init hello_init(void)
            {
            \tmsleep(1);
            \treturn 0;
            }

            static void __exit hello_exit(void)
            {
            }

            module_init(hello_init);
            module_exit(hello_exit);
            MODULE_LICENSE("GPL");

            """
    }
}

extension LifecycleRequirements {
    /// The full linux-source-6.12 tree's image, made and verified by `make setup`.
    static let fullKernelImage: ByteString = "/var/cache/ksqsh/linux-source-6.12.sqfs"
}
