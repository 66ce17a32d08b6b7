import Mounting
import SystemPackage
import SystemSupport

/// What a build dir holds, read from the files kbuild writes.
enum BuildDirectoryState {
    /// A build finished here: `vmlinux` (before slim), `System.map` (the
    /// link's other product, kept by slim) or `Module.symvers` (modpost's).
    static func isBuilt(_ build: FilePath) -> Bool {
        ["vmlinux", "System.map", "Module.symvers"].contains { isRegularFile(build.appending($0)) }
    }

    /// The release (`uname -r`) of a modular kernel's build; nil without
    /// CONFIG_MODULES or before a build wrote include/config/kernel.release.
    static func moduleRelease(_ build: FilePath) -> String? {
        guard (try? enablesModules(build.appending(".config"))) == true, let release = release(of: build) else { return nil }
        return release.contains("/") ? nil : release
    }

    /// The release a build wrote to include/config/kernel.release; nil
    /// before it did.
    static func release(of build: FilePath) -> String? {
        let text = (try? readSmallFile(build.appending("include/config/kernel.release"), limit: 4096))?.trimmingWhitespace
        return text?.isEmpty == false ? text : nil
    }

    static func enablesModules(_ config: FilePath) throws -> Bool {
        try readSmallFile(config, limit: 16 << 20).split(separator: "\n").contains("CONFIG_MODULES=y")
    }

    /// Deleting in a build dir is confined to EROOT/usr/src: it must be a
    /// real directory (`info`, not followed) directly inside it.
    static func requireReal(_ layout: KernelLayout, _ info: Stat, refusing verb: String) throws {
        let path = layout.buildDirectory
        guard info.type == .directory else {
            throw KsqshError(.pathRefused, path: path, "is a symlink or file, not a build dir; refusing to \(verb) through it")
        }
        let sources = canonicalPath(layout.sourcesDirectory)
        guard canonicalPath(path).removingLastComponent() == sources else {
            throw KsqshError(.pathRefused, path: path, "resolves outside \(sources); refusing to delete it")
        }
    }
}
