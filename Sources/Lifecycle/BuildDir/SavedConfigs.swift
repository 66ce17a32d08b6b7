import Glibc
import SystemPackage
import SystemSupport

/// Configs kept in EROOT/etc/kernels (genkernel's place) when a build dir goes.
public enum SavedConfigs {
    public enum Outcome: Sendable, Equatable, CustomStringConvertible {
        case saved(FilePath)
        /// The saved config already had this content.
        case unchanged(FilePath)
        /// A different saved config was kept under a time-stamped name
        /// (`kernel-config-KV~YYYYMMDD-HHMMSS`); the new one took its place.
        case replaced(FilePath, previousKeptAs: FilePath)
        /// The config was empty: nothing to keep, the saved one stays.
        case empty(FilePath)

        public var description: String {
            switch self {
            case .saved(let path): "saved as \(path)"
            case .unchanged(let path): "already saved as \(path)"
            case .replaced(let path, let previous): "saved as \(path) (the different one there before is kept as \(previous))"
            case .empty(let path): "not saved: it is empty (\(path) stays as it is)"
            }
        }
    }

    /// Saves `config` as the saved config of `layout.version`. Nothing is
    /// ever overwritten: an older, different config is renamed first.
    public static func save(_ config: FilePath, for layout: KernelLayout) throws -> Outcome {
        let bytes = try readFileBytes(config)
        let target = layout.savedConfig
        // What a power cut leaves of a .config written but not synced: an
        // empty file must not push a real saved config aside.
        if bytes.isEmpty { return .empty(target) }
        try makeDirectories(layout.savedConfigsDirectory)
        guard isRegularFile(target) else {
            try writeAtomically(bytes, to: target)
            return .saved(target)
        }
        if try readFileBytes(target) == bytes { return .unchanged(target) }
        let previous = archivedName(for: target)
        do {
            try target.makeHardLink(at: previous)
        } catch {
            throw KsqshError(.writeFailed, path: previous, "cannot keep the previous saved config", errno: error)
        }
        try writeAtomically(bytes, to: target)
        return .replaced(target, previousKeptAs: previous)
    }

    /// `~` cannot occur in a kernel version, so the config chain never takes
    /// an archived config for another version's.
    private static func archivedName(for target: FilePath) -> FilePath {
        var time = (try? target.stat())?.st_mtim.tv_sec ?? 0
        var parts = tm()
        gmtime_r(&time, &parts)
        let stamp = String(cFormat: "%04d%02d%02d-%02d%02d%02d", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec)
        var candidate = FilePath(target.string + "~" + stamp)
        var counter = 1
        while candidate.isAccessible(.exists) {
            candidate = FilePath(target.string + "~" + stamp + "-\(counter)")
            counter += 1
        }
        return candidate
    }
}
