import SystemPackage
import SystemSupport

/// EROOT/etc/kernel/config.d/*.config: config fragments that
/// kernel-build.eclass merges over a dist-kernel's base config, merged here
/// the same way, with the kernel's own `scripts/kconfig/merge_config.sh -m -r`.
public enum ConfigFragments {
    /// The fragments in `directory`, in byte order of their names (the
    /// order they are merged in: a later one overrides an earlier one), as
    /// bash's `*.config` lists them: hidden names are left out. Refuses
    /// what merge_config.sh cannot take, before anything changes.
    public static func list(in directory: FilePath) throws -> [FilePath] {
        let names = directoryNames(directory).filter { $0.hasSuffix(".config") && !$0.hasPrefix(".") }
        return try names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map { name in
            let path = directory.appending(name)
            // merge_config.sh word-splits and globs its list of fragments.
            if let unusable = Prepare.unusableByte(in: path) {
                throw KsqshError(
                    .pathRefused, path: path,
                    "the kernel's merge_config.sh cannot take a fragment name containing '\(Prepare.shown(unusable))' (nor whitespace, quotes or shell wildcards); rename it")
            }
            guard isRegularFile(path), path.isAccessible(.readable) else {
                throw KsqshError(.sourceUnreadable, path: path, "config fragment is not a readable regular file; fix it or remove it from \(directory)")
            }
            return path
        }
    }

    /// Merges `fragments` into the build dir's .config. merge_config.sh
    /// writes its temporary files and the result in its working directory,
    /// so it runs in the build dir; -m leaves the make to the caller
    /// (olddefconfig, out of tree). It honours KCONFIG_CONFIG as make does,
    /// so it runs without the variables KernelMake unsets.
    static func merge(_ fragments: [FilePath], sources: FilePath, build: FilePath) throws {
        let script = sources.appending("scripts/kconfig/merge_config.sh")
        guard isRegularFile(script) else {
            throw KsqshError(.buildFailed, path: script, "these kernel sources have no merge_config.sh to apply the config.d fragments with; remove the fragments or use newer sources")
        }
        let merge = ChildProcess(
            executable: script.string, arguments: ["-m", "-r", ".config"] + fragments.map(\.string),
            removedEnvironment: KernelMake.variablesToUnset, workingDirectory: build)
        let status = try merge.run()
        guard status == 0 else {
            throw KsqshError(.buildFailed, path: build, "merge_config.sh failed with status \(status) merging the config.d fragments (its output is above)")
        }
    }
}
