import KernelSquash
import Testing

/// Where a kernel build's files go in a `--layout kernel` image.
@Suite("Kernel data layout")
struct DataLayoutTests {
    @Test("defconfig's reads come first: every Kconfig, Makefile and Kbuild, scripts/, arch defconfigs",
          arguments: ["Kconfig", "Makefile", "drivers/net/Kconfig", "fs/ext4/Makefile", "arch/x86/Kbuild", "lib/Kconfig.debug",
                      "scripts/kconfig/conf.c", "scripts/Makefile.build", "arch/x86/configs/x86_64_defconfig"])
    func configuration(path: String) {
        #expect(KernelReadOrder.group(of: Array(path.utf8)) == .configuration)
    }

    @Test("then what modules_prepare reads: headers, tools, syscall tables, asm-offsets",
          arguments: ["include/linux/module.h", "arch/x86/include/asm/page.h", "tools/objtool/check.c",
                      "arch/x86/entry/syscalls/syscall_64.tbl", "kernel/bounds.c", "arch/x86/kernel/asm-offsets.c",
                      "arch/arm64/include/asm/page.h", "arch/x86/tools/relocs.c"])
    func preparation(path: String) {
        #expect(KernelReadOrder.group(of: Array(path.utf8)) == .preparation)
    }

    @Test("then everything else", arguments: ["kernel/fork.c", "drivers/net/loopback.c", "arch/x86/kernel/process.c",
                                               "Documentation/index.rst", "arch/x86/configs", "README"])
    func rest(path: String) {
        #expect(KernelReadOrder.group(of: Array(path.utf8)) == .rest)
    }
}
