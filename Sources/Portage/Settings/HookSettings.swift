import ImageEngine
import SquashFSFormat
import SystemPackage
import SystemSupport

/// What a user chooses for the hooks, in one place: EPREFIX/etc/ksqsh.conf
/// (`KEY=value` lines; `KSQSH_CONFIG` names another file), each key
/// overridden by the same-named variable from portage's environment
/// (make.conf, package.env). ksqsh reads them itself at every phase, so
/// hooks saved with installed packages need no change when they change.
public struct HookSettings: Sendable, Equatable {
    public var compression: Compression = .xz
    public var blockSize = 1 << 20
    /// Compression threads; nil: every core.
    public var jobs: Int?
    /// nil: `kernel` for kernel trees (what `ksqsh squash` chooses).
    public var layout: DataLayout?
    /// `KSQSH_PREPARE=modules`: also run make modules_prepare after install.
    public var prepareModules = false
    /// `KSQSH_FALLBACK=plain`: if squashing fails, install plain sources instead of failing.
    public var fallbackToPlain = false
    /// `KSQSH_SLIM=yes`: the installkernel plugin slims the build dir of
    /// the kernel it installed (`ksqsh slim`).
    public var slimAfterInstall = false

    public init() {}

    /// The squash options these settings choose.
    public var squashOptions: SquashOptions {
        var options = SquashOptions()
        options.compression = compression
        options.blockSize = blockSize
        if let jobs { options.jobs = jobs }
        options.layout = layout
        return options
    }

    /// Settings as read, with every value that was refused (the default
    /// stands for those).
    public struct Reading: Sendable {
        public var settings = HookSettings()
        public var problems: [KsqshError] = []
    }

    /// The file's settings, then the environment's on top; `file` nil reads
    /// only the environment.
    public static func read(file: FilePath?, variables: [String: String]) -> Reading {
        var reading = Reading()
        if let file {
            let contents = SettingsFile(path: file)
            reading.problems += contents.problems
            for entry in contents.entries {
                guard let key = HookSetting(rawValue: entry.key) else {
                    let known = HookSetting.allCases.map(\.rawValue).joined(separator: ", ")
                    reading.problems.append(KsqshError(.settingInvalid, path: file, "line \(entry.line): \(entry.key) is not a setting; the settings are \(known)"))
                    continue
                }
                if !key.apply(entry.value, to: &reading.settings) {
                    reading.problems.append(KsqshError(.settingInvalid, path: file, "line \(entry.line): \(key.refusal(entry.value))"))
                }
            }
        }
        for key in HookSetting.allCases {
            guard let value = variables[key.rawValue], !value.isEmpty else { continue }
            if !key.apply(value, to: &reading.settings) {
                reading.problems.append(KsqshError(.settingInvalid, "\(key.refusal(value)) (set in portage's environment: make.conf or package.env)"))
            }
        }
        return reading
    }

    /// EPREFIX/etc/ksqsh.conf, or the file KSQSH_CONFIG names.
    public static func file(eprefix: String, variables: [String: String]) -> FilePath {
        if let named = variables["KSQSH_CONFIG"], !named.isEmpty { return FilePath(named) }
        return FilePath("/").pushing(FilePath(eprefix).removingRoot()).appending("etc/ksqsh.conf")
    }
}
