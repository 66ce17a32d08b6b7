import SystemSupport

/// What `make modules_prepare` reads for one architecture, in the order a
/// build first reaches it: the rule table behind the preparation group.
///
/// modules_prepare runs three kinds of compiler at once (two make jobs):
/// kernel objects, the host programs of scripts/, and objtool. Each reads
/// its sources and then the headers its `#include` lines reach through its
/// own `-I` directories. Traced on linux-source-6.12 (x86, cold), 837 files:
/// with only the kernel objects' headers ranked, the rest (modpost's and
/// genheaders' headers, objtool's tools/ headers, the files objtool's
/// sync-check compares) lay in 1 MiB blocks among unrelated files, and the
/// build decompressed 53 MB of fragments to read 6 MB; with this table, 30 MB.
enum ModulesPrepareReads {
    /// One kind of compiler run: the files it reads first, in the order the
    /// build reaches them, and where its `#include <…>` lines look.
    struct Compilation {
        /// Paths, or `directory/*suffix` for each such file in directory
        /// (tree order). `ARCH` stands for the architecture.
        let sources: [String]
        /// The `-I` directories, in order (`ARCH` as above).
        let includeDirectories: [String]
        /// Whether `asm/` headers fall back to asm-generic, as the kernel's
        /// generated wrappers do.
        let genericAsm: Bool
    }

    static let compilations = [
        // Kernel objects: the headers every compile is given with -include,
        // then what modules_prepare compiles or preprocesses; timeconst.bc
        // is read by bc at the same time.
        Compilation(
            sources: ["include/linux/compiler-version.h", "include/linux/kconfig.h", "include/linux/compiler_types.h",
                      "scripts/mod/devicetable-offsets.c", "kernel/bounds.c", "arch/ARCH/kernel/asm-offsets.c",
                      "scripts/module.lds.S", "kernel/time/timeconst.bc"],
            includeDirectories: ["arch/ARCH/include", "include", "arch/ARCH/include/uapi", "include/uapi"],
            genericAsm: true),
        // Host programs (fixdep, modpost, genheaders, kallsyms, …). Their
        // <linux/…> headers are the system's, which are the kernel's uapi
        // ones; asn1_compiler adds include/, genheaders SELinux's headers,
        // sorttable the tools headers.
        Compilation(
            sources: ["scripts/basic/*.c", "scripts/*.c", "scripts/mod/*.c", "scripts/selinux/genheaders/*.c",
                      "scripts/selinux/mdp/*.c"],
            includeDirectories: ["scripts/include", "include/uapi", "include", "security/selinux/include", "tools/include",
                                 "tools/arch/ARCH/include"],
            genericAsm: false),
        // objtool: the make files its build reads (none is #included), then
        // what it compiles: fixdep, libsubcmd, the tools/lib sources it
        // builds in, its own.
        Compilation(
            sources: ["tools/Makefile", "tools/scripts/Makefile.include", "tools/scripts/Makefile.arch",
                      "tools/scripts/utilities.mak", "tools/build/Makefile.include", "tools/build/Makefile",
                      "tools/build/Makefile.build", "tools/build/Build.include", "tools/objtool/Makefile", "tools/objtool/Build",
                      "tools/objtool/arch/ARCH/Build", "tools/lib/subcmd/Makefile", "tools/lib/subcmd/Build",
                      "tools/build/fixdep.c", "tools/lib/subcmd/*.c", "tools/lib/*.c", "tools/objtool/*.c",
                      "tools/objtool/arch/ARCH/*.c"],
            includeDirectories: ["tools/include", "tools/arch/ARCH/include/uapi", "tools/arch/ARCH/include",
                                 "tools/objtool/include", "tools/objtool/arch/ARCH/include", "tools/lib", "tools/include/uapi"],
            genericAsm: false),
    ]

    /// Ranks what modules_prepare reads for `arch` after the files `ranks`
    /// holds already: each compilation's reach, then the copies under
    /// tools/ and their originals.
    static func extend(_ ranks: inout [Int: Int], for arch: String, in graph: ReferenceGraph) {
        func forArch(_ text: String) -> String { text.replacing("ARCH", with: arch) }
        for compilation in compilations {
            let seeds = compilation.sources.flatMap { graph.paths(matching: forArch($0)) }
            let edges = ReferenceGraph.Edges.includes(
                directories: compilation.includeDirectories.map(forArch), genericAsm: compilation.genericAsm)
            graph.extendFirstReach(&ranks, from: seeds, following: edges)
        }
        rankToolsCopies(&ranks, for: arch, in: graph)
    }

    /// objtool's sync-check.sh compares its copies of kernel files (under
    /// tools/, same path below) with the originals: each header copy
    /// objtool reached, and each file under tools/arch/ARCH (the opcode map
    /// and awk script are not #included), is followed by its original.
    private static func rankToolsCopies(_ ranks: inout [Int: Int], for arch: String, in graph: ReferenceGraph) {
        func rank(_ file: Int) {
            if ranks[file] == nil { ranks[file] = ranks.count }
        }
        let reached = ranks.sorted { $0.value < $1.value }.map(\.key).filter { file in
            let path = graph.path(of: file)
            return path.hasPrefix("tools/") && path.hasSuffix(".h")
        }
        let archCopies = graph.paths(under: "tools/arch/\(arch)/").compactMap(graph.index(of:))
        for copy in reached + archCopies {
            rank(copy)
            if let original = graph.index(of: String(graph.path(of: copy).dropFirst("tools/".count))) { rank(original) }
        }
    }
}
