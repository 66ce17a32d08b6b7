import ImageEngine
import Testing

/// Where a kernel build's files go in a `--layout kernel` image.
@Suite("Kernel data layout")
struct DataLayoutTests {
    @Test("first what every make run reads (the Kbuild lists of generated headers too) and the host tools of defconfig and modules_prepare",
          arguments: ["Makefile", "Kbuild", "arch/x86/Makefile", "arch/arm64/Makefile", "scripts/Makefile.build",
                      "scripts/Kbuild.include", "scripts/cc-version.sh", "scripts/kallsyms.c", "scripts/basic/fixdep.c",
                      "scripts/kconfig/conf.c", "scripts/include/list.h", "scripts/mod/modpost.c",
                      "scripts/selinux/genheaders/genheaders.c", "scripts/kconfig/Makefile", "scripts/dtc/Makefile",
                      "include/uapi/asm-generic/Kbuild", "arch/x86/include/asm/Kbuild"])
    func kbuild(path: String) {
        #expect(KernelReadOrder.group(of: Array(path.utf8)) == .kbuild)
    }

    @Test("then what defconfig parses: every Kconfig (scripts/ too), the arch defconfigs",
          arguments: ["Kconfig", "drivers/net/Kconfig", "lib/Kconfig.debug", "arch/x86/Kconfig", "scripts/Kconfig.include",
                      "arch/x86/configs/x86_64_defconfig", "arch/arm/configs/multi_v7_defconfig"])
    func configuration(path: String) {
        #expect(KernelReadOrder.group(of: Array(path.utf8)) == .configuration)
    }

    @Test("then the other Makefiles and the rest of scripts/",
          arguments: ["fs/ext4/Makefile", "drivers/net/Kbuild", "arch/x86/kernel/Makefile", "scripts/dtc/dtc.c",
                      "scripts/gdb/linux/utils.py", "tools/testing/selftests/Makefile"])
    func makefiles(path: String) {
        #expect(KernelReadOrder.group(of: Array(path.utf8)) == .makefiles)
    }

    @Test("then what modules_prepare reads: headers, objtool and its tools headers, syscall tables, asm-offsets",
          arguments: ["include/linux/module.h", "arch/x86/include/asm/page.h", "tools/Makefile",
                      "arch/arm64/include/asm/page.h", "tools/objtool/check.c",
                      "tools/include/linux/list.h", "tools/build/Makefile.build", "arch/x86/tools/relocs.c",
                      "arch/x86/entry/syscalls/syscall_64.tbl", "arch/x86/entry/syscalls/Makefile",
                      "kernel/bounds.c", "kernel/time/timeconst.bc", "arch/x86/kernel/asm-offsets.c"])
    func preparation(path: String) {
        #expect(KernelReadOrder.group(of: Array(path.utf8)) == .preparation)
    }

    @Test("then everything else, perf and the selftests included",
          arguments: ["kernel/fork.c", "drivers/net/loopback.c", "arch/x86/kernel/process.c", "Documentation/index.rst",
                      "tools/perf/builtin-top.c", "tools/testing/selftests/kselftest.h", "README", "arch/x86/configs"])
    func rest(path: String) {
        #expect(KernelReadOrder.group(of: Array(path.utf8)) == .rest)
    }

    @Test("Kconfig files are stored in the order `source` lines reach them for x86, then other arches' for $(SRCARCH)")
    func kconfigSourceOrder() {
        let tree = MiniTree([
            ("Kconfig", "mainmenu \"x\"\nsource \"init/Kconfig\"\nsource \"arch/$(SRCARCH)/Kconfig\"\n\tsource \"drivers/Kconfig\"\n"),
            ("arch/arm64/Kconfig", "config ARM64\n"),
            ("arch/x86/Kconfig", "rsource \"Kconfig.cpu\"\n"),
            ("arch/x86/Kconfig.cpu", ""),
            ("drivers/Kconfig", "source \"drivers/net/Kconfig\"\nsource \"drivers/ata/Kconfig\"\nosource \"drivers/gone/Kconfig\"\n"),
            ("drivers/ata/Kconfig", "config ATA\n\thelp\n\t  source code of \"init/Kconfig\" is not a directive\n"),
            ("drivers/net/Kconfig", "source \"$(UNKNOWN)/Kconfig\"\n"),
            ("fs/Kconfig.orphan", ""),
            ("init/Kconfig", ""),
        ])
        #expect(tree.storageOrder() == [
            "Kconfig", "init/Kconfig", "arch/x86/Kconfig", "arch/x86/Kconfig.cpu", "drivers/Kconfig",
            "drivers/net/Kconfig", "drivers/ata/Kconfig", "arch/arm64/Kconfig", "fs/Kconfig.orphan",
        ])
    }

    @Test("headers are stored in the order #include lines reach them from bounds.c and asm-offsets.c")
    func includeOrder() {
        let tree = MiniTree([
            ("arch/x86/include/asm/page.h", "#include <linux/types.h>\n"),
            ("arch/x86/kernel/asm-offsets.c", "#include <linux/sched.h>\n#  include \"asm-offsets_64.c\"\n"),
            ("arch/x86/kernel/asm-offsets_64.c", "#include <asm/page.h>\n#include <asm/bug.h>\n"),
            ("include/asm-generic/bug.h", ""),
            ("include/linux/aaa-unread.h", ""),
            ("include/linux/sched.h", "#include <linux/types.h>\n#include_next <linux/aaa-unread.h>\n"),
            ("include/linux/types.h", "#include <uapi/linux/types.h>\n"),
            ("include/uapi/linux/types.h", ""),
            ("kernel/bounds.c", "#include <linux/page-flags.h>\n"),
            ("include/linux/page-flags.h", "#include \"../uapi/linux/types.h\"\n"),
        ])
        #expect(tree.storageOrder() == [
            "kernel/bounds.c", "include/linux/page-flags.h", "include/uapi/linux/types.h",
            "arch/x86/kernel/asm-offsets.c", "include/linux/sched.h", "include/linux/types.h",
            "arch/x86/kernel/asm-offsets_64.c", "arch/x86/include/asm/page.h", "include/asm-generic/bug.h",
            "include/linux/aaa-unread.h",
        ])
    }

    @Test("groups come in build order, and unranked files keep tree order within their group")
    func groupsInBuildOrder() {
        let tree = MiniTree([
            ("Documentation/index.rst", ""), ("Kconfig", ""), ("Makefile", ""), ("drivers/net/Makefile", ""),
            ("drivers/net/loopback.c", ""), ("include/linux/b.h", ""), ("include/linux/a.h", ""),
            ("scripts/Makefile.build", ""),
        ])
        #expect(tree.storageOrder() == [
            "Makefile", "scripts/Makefile.build", "Kconfig", "drivers/net/Makefile", "include/linux/b.h",
            "include/linux/a.h", "Documentation/index.rst", "drivers/net/loopback.c",
        ])
    }
}

extension DataLayoutTests {
    @Test("every kernel compile reads its -include headers first, then modules_prepare's objects")
    func forcedIncludesFirst() {
        let tree = MiniTree([
            ("arch/x86/kernel/asm-offsets.c", "#include <linux/sched.h>\n"),
            ("include/linux/compiler-gcc.h", ""),
            ("include/linux/compiler-version.h", ""),
            ("include/linux/compiler_types.h", "#include <linux/compiler-gcc.h>\n"),
            ("include/linux/kbuild.h", ""),
            ("include/linux/kconfig.h", "#include <generated/autoconf.h>\n"),
            ("include/linux/mod_devicetable.h", ""),
            ("include/linux/sched.h", ""),
            ("kernel/bounds.c", "#include <linux/kbuild.h>\n"),
            ("scripts/mod/devicetable-offsets.c", "#include <linux/mod_devicetable.h>\n"),
        ])
        let order = tree.storageOrder().filter { !$0.hasPrefix("scripts/") }
        #expect(order == [
            "include/linux/compiler-version.h", "include/linux/kconfig.h", "include/linux/compiler_types.h",
            "include/linux/compiler-gcc.h", "include/linux/mod_devicetable.h", "kernel/bounds.c", "include/linux/kbuild.h",
            "arch/x86/kernel/asm-offsets.c", "include/linux/sched.h",
        ])
    }

    @Test("host programs and objtool reach headers through their own -I directories; what they reach elsewhere joins them")
    func hostProgramsAndObjtool() {
        let tree = MiniTree([
            ("arch/x86/include/asm/insn.h", ""),
            ("drivers/zz-unread.c", ""),
            ("include/linux/license.h", ""),
            ("include/uapi/linux/types.h", ""),
            ("scripts/include/list.h", ""),
            ("scripts/mod/modpost.c", "#include <list.h>\n#include \"../../include/linux/license.h\"\n#include <linux/types.h>\n"),
            ("scripts/selinux/genheaders/genheaders.c", "#include \"classmap.h\"\n"),
            ("security/selinux/hooks.c", ""),
            ("security/selinux/include/classmap.h", ""),
            ("tools/arch/x86/include/asm/insn.h", ""),
            ("tools/include/linux/list.h", ""),
            ("tools/objtool/check.c", "#include <linux/list.h>\n#include <objtool/check.h>\n#include <asm/insn.h>\n"),
            ("tools/objtool/include/objtool/check.h", ""),
        ])
        let order = tree.storageOrder()
        // modpost's headers, then genheaders', then objtool's: each after its sources' own group.
        #expect(order.filter { !$0.hasPrefix("scripts/") } == [
            "include/linux/license.h", "include/uapi/linux/types.h", "security/selinux/include/classmap.h",
            "tools/objtool/check.c", "tools/include/linux/list.h", "tools/objtool/include/objtool/check.h",
            "tools/arch/x86/include/asm/insn.h", "arch/x86/include/asm/insn.h",
            "drivers/zz-unread.c", "security/selinux/hooks.c",
        ])
        let small = Set(tree.smallFragmentFiles())
        #expect(small.isSuperset(of: ["security/selinux/include/classmap.h", "include/linux/license.h", "arch/x86/include/asm/insn.h"]))
        #expect(!small.contains("security/selinux/hooks.c"))
    }

    @Test("the kbuild group: make's own files, then the scripts it runs, then host sources, then perl and the like")
    func kbuildKinds() {
        let tree = MiniTree([
            ("Makefile", ""), ("scripts/Kbuild.include", ""), ("scripts/Makefile.build", ""), ("scripts/cc-version.sh", ""),
            ("scripts/checkpatch.pl", ""), ("scripts/kallsyms.c", ""), ("scripts/mod/Makefile", ""),
            ("scripts/setlocalversion", ""), ("scripts/subarch.include", ""),
        ])
        #expect(tree.storageOrder() == [
            "Makefile", "scripts/Kbuild.include", "scripts/Makefile.build", "scripts/mod/Makefile", "scripts/subarch.include",
            "scripts/cc-version.sh", "scripts/setlocalversion", "scripts/kallsyms.c", "scripts/checkpatch.pl",
        ])
    }

    @Test("the leading arch's defconfigs come right after the Kconfig files, before other arches'")
    func leadingDefconfigsFirst() {
        let tree = MiniTree([
            ("Kconfig", ""), ("arch/arm/configs/multi_v7_defconfig", ""), ("arch/x86/configs/x86_64_defconfig", ""),
            ("init/Kconfig", ""),
        ])
        #expect(tree.storageOrder() == [
            "Kconfig", "arch/x86/configs/x86_64_defconfig", "arch/arm/configs/multi_v7_defconfig", "init/Kconfig",
        ])
    }
}

extension DataLayoutTests {
    @Test("small fragment blocks for what the leading arch reads again and again: kbuild, the headers its seeds reach, its tools")
    func smallFragments() {
        let tree = MiniTree([
            ("Kconfig", ""), ("Makefile", ""), ("arch/arm64/include/asm/arm.h", ""),
            ("arch/arm64/kernel/asm-offsets.c", "#include <asm/arm.h>\n"), ("arch/x86/Makefile", ""),
            ("arch/x86/entry/syscalls/syscall_64.tbl", ""), ("arch/x86/kernel/asm-offsets.c", "#include <linux/sched.h>\n"),
            ("drivers/net/Makefile", ""), ("drivers/net/loopback.c", ""), ("include/linux/sched.h", ""),
            ("include/linux/unread.h", ""), ("kernel/bounds.c", ""), ("scripts/Makefile.build", ""),
            ("tools/arch/arm64/include/asm/barrier.h", ""), ("tools/arch/x86/include/asm/insn.h", ""),
            ("tools/objtool/check.c", ""), ("tools/perf/builtin-top.c", ""),
        ])
        #expect(tree.smallFragmentFiles() == [
            "Makefile", "arch/x86/Makefile", "arch/x86/entry/syscalls/syscall_64.tbl", "arch/x86/kernel/asm-offsets.c",
            "include/linux/sched.h", "kernel/bounds.c", "scripts/Makefile.build", "tools/arch/x86/include/asm/insn.h",
            "tools/objtool/check.c",
        ])
    }
}

extension DataLayoutTests {
    @Test("a file's reference lines are the #include and source lines, and rank files as the whole texts do")
    func referenceLines() {
        let text = "/* #include <not/a/comment> */\n#include <linux/a.h>\n#  include \"b.h\"\nint x;\n"
            + "config X\n\thelp\n\t  source code of \"init/Kconfig\" is not a directive\n\tsource \"drivers/Kconfig\"\norsource \"K2\"\n"
        #expect(String(decoding: KernelReadOrder.referenceLines(in: Array(text.utf8)), as: UTF8.self)
            == "#include <linux/a.h>\n#  include \"b.h\"\n\tsource \"drivers/Kconfig\"\norsource \"K2\"\n")

        let tree = MiniTree([
            ("Kconfig", "# top\nsource \"init/Kconfig\"\nmenu \"x\"\nsource \"drivers/Kconfig\"\nendmenu\n"),
            ("arch/x86/kernel/asm-offsets.c", "/* offsets */\n#include <linux/z.h>\nint main(void) { return 0; }\n"),
            ("drivers/Kconfig", ""), ("include/linux/a.h", ""), ("include/linux/z.h", "#include <linux/a.h>\nstruct z;\n"),
            ("init/Kconfig", "config INIT\n"),
        ])
        #expect(tree.storageOrder() == tree.storageOrder(referenceLinesOnly: true))
        #expect(tree.storageOrder().firstIndex(of: "include/linux/z.h")! < tree.storageOrder().firstIndex(of: "include/linux/a.h")!)
    }
}

/// Paths and contents in tree order, as `DataLayout` hands them to `KernelReadOrder`.
private struct MiniTree {
    let files: [(path: String, text: String)]

    init(_ files: [(String, String)]) { self.files = files.map { (path: $0.0, text: $0.1) } }

    func storageOrder(referenceLinesOnly: Bool = false) -> [String] {
        plan(referenceLinesOnly: referenceLinesOnly).order.map { files[$0].path }
    }

    /// In tree order.
    func smallFragmentFiles() -> [String] {
        plan().smallFragments.sorted().map { files[$0].path }
    }

    private func plan(referenceLinesOnly: Bool = false) -> KernelReadOrder.Plan {
        let files = files
        return KernelReadOrder.plan(paths: files.map { Array($0.path.utf8) }) { index in
            let text = Array(files[index].text.utf8)
            return referenceLinesOnly ? KernelReadOrder.referenceLines(in: text) : text
        }
    }
}
