import SystemSupport

/// What `ksqsh slim` keeps of a built build dir: what building out-of-tree
/// modules against it (`make -C build-KV M=…`, linux-mod-r1) and
/// reconfiguring it need: the set a dist-kernel keeps for its modprep tree,
/// less Kconfig's per-symbol timestamp files.
/// Everything else is the product of the build, gone to /boot and
/// /lib/modules already, or intermediate objects a rebuild makes again.
///
/// Paths are relative to the build dir, as their components.
package enum SlimSelection {
    /// Files at the top of the build dir that stay. `.config` above all;
    /// `Makefile` and `source` make the dir a kernel build dir for kbuild;
    /// `Module.symvers` and `System.map` are what modules link and depmod
    /// against; `.version` keeps the build counter for the next build.
    static let topLevelFiles: Set<String> = [".config", "Makefile", "source", "Module.symvers", "System.map", ".version"]

    /// Signing keys a build generated: external modules are signed with them.
    static let signingKeys: Set<String> = ["signing_key.pem", "signing_key.x509"]

    /// Host tools external module builds run: objtool (CONFIG_OBJTOOL) and
    /// resolve_btfids (CONFIG_DEBUG_INFO_BTF_MODULES).
    static let tools: Set<[String]> = [["tools", "objtool", "objtool"], ["tools", "bpf", "resolve_btfids", "resolve_btfids"]]

    /// Whether the file (or symlink) at `path` stays.
    package static func keepsFile(_ path: [String]) -> Bool {
        guard let name = path.last else { return false }
        if path.count == 1 { return topLevelFiles.contains(name) }
        if path[0] == "certs" { return path.count == 2 && signingKeys.contains(name) }
        if path[0] == "tools" { return tools.contains(path) }
        return isInKeptTree(path) && !isBuildLeftover(name) && !isConfigTimestamp(path)
    }

    /// Whether an empty directory at `path` belongs to a kept tree (and so
    /// stays when it was empty before slim began).
    package static func keepsDirectory(_ path: [String]) -> Bool {
        isInKeptTree(path + [""])
    }

    /// The generated headers and config (`include/`, `arch/*/include/`),
    /// the host programs and linker scripts kbuild runs (`scripts/`), and
    /// the Rust metadata modules in Rust need (`rust/`).
    private static func isInKeptTree(_ path: [String]) -> Bool {
        guard path.count >= 2 else { return false }
        switch path[0] {
        case "include", "scripts", "rust": return true
        case "arch": return path.count >= 4 && path[2] == "include"
        default: return false
        }
    }

    /// `include/config/FOO`: an empty file per Kconfig symbol, named after
    /// it, whose timestamp tells an in-tree rebuild which objects depend on
    /// a changed option. Nothing in-tree is left to rebuild, module builds
    /// only ask for them through `$(wildcard …)`, and they are most of a
    /// slim dir's inodes (1,700 of 1,800 for defconfig). The lower-case
    /// files there (auto.conf, kernel.release, …) stay.
    private static func isConfigTimestamp(_ path: [String]) -> Bool {
        path.count == 3 && path[0] == "include" && path[1] == "config"
            && path[2].unicodeScalars.allSatisfy { $0.isASCIIUppercase || $0.isASCIIDigit || $0 == "_" }
    }

    /// Objects and kbuild's per-target records: a rebuild makes them again,
    /// module builds never read them.
    private static func isBuildLeftover(_ name: String) -> Bool {
        if name.hasSuffix(".o") { return true }
        return name.hasPrefix(".") && (name.hasSuffix(".cmd") || name.hasSuffix(".d") || name.hasSuffix(".tmp"))
    }
}
