import Lifecycle
import SystemPackage
import SystemSupport

/// The variables a hook forwards from portage, parsed and checked once.
public struct PortageEnvironment: Sendable {
    public var root: FilePath
    public var eprefix: String
    /// Portage's EROOT when given, else ROOT + EPREFIX.
    public var eroot: FilePath
    public var ed: FilePath?
    public var workdir: FilePath?
    public var kernelVersion: KernelVersion
    public var packageName: String
    /// PVR: version and revision, as REPLACED_BY_VERSION names it.
    public var packageVersion: String
    public var use: Set<String>
    /// "source", "binary" or "buildonly"; empty in prerm/postrm.
    public var mergeType: String
    public var replacingVersions: [String]
    public var replacedByVersion: String?
    public var features: Set<String>
    /// The user's choices (HookSettings): from the environment alone here;
    /// `forPhase` adds the settings file.
    public var settings: HookSettings
    /// Where the settings file is looked for.
    public var settingsFile: FilePath
    /// Values of the settings file refused in a phase that goes on with
    /// the defaults, to be said in the build log.
    public var settingWarnings: [String] = []

    /// The names a hook passes on; anything else in the environment is ignored.
    public static let forwardedVariables = [
        "ROOT", "EPREFIX", "EROOT", "ED", "WORKDIR", "KV_FULL", "PN", "PVR", "USE", "MERGE_TYPE",
        "REPLACING_VERSIONS", "REPLACED_BY_VERSION", "FEATURES", "KSQSH_CONFIG",
    ] + HookSetting.allCases.map(\.rawValue)

    public init(_ variables: [String: String]) throws {
        func value(_ name: String) -> String { variables[name] ?? "" }
        guard let version = KernelVersion(value("KV_FULL")) else {
            throw KsqshError(
                .kernelVersionUnknown,
                "KV_FULL is \(value("KV_FULL").isEmpty ? "not set" : "'\(DisplayedText.oneLine(value("KV_FULL")))', not a kernel version"); is this a kernel-2 sources package?")
        }
        kernelVersion = version
        root = FilePath(value("ROOT").isEmpty ? "/" : value("ROOT"))
        eprefix = value("EPREFIX")
        eroot = value("EROOT").isEmpty ? KernelLayout.eroot(root: root, eprefix: eprefix) : FilePath(value("EROOT"))
        ed = value("ED").isEmpty ? nil : FilePath(value("ED"))
        workdir = value("WORKDIR").isEmpty ? nil : FilePath(value("WORKDIR"))
        packageName = value("PN")
        packageVersion = value("PVR")
        use = Set(value("USE").split(separator: " ").map(String.init))
        mergeType = value("MERGE_TYPE")
        replacingVersions = value("REPLACING_VERSIONS").split(separator: " ").map(String.init)
        replacedByVersion = value("REPLACED_BY_VERSION").isEmpty ? nil : value("REPLACED_BY_VERSION")
        features = Set(value("FEATURES").split(separator: " ").map(String.init))
        settings = HookSettings.read(file: nil, variables: variables).settings
        settingsFile = HookSettings.file(eprefix: eprefix, variables: variables)
    }

    /// The environment of a hook's phase, with the settings file read. A
    /// refused value stops pre_src_install, before anything is touched, so
    /// the user fixes it where it is said; later phases must go on (a merge
    /// or an unmerge is under way), so they keep the default and warn.
    public static func forPhase(_ phase: Phase, variables: [String: String]) throws -> PortageEnvironment {
        var environment = try PortageEnvironment(variables)
        let reading = HookSettings.read(file: environment.settingsFile, variables: variables)
        if phase == .preSrcInstall, let refused = reading.problems.first { throw refused }
        environment.settings = reading.settings
        environment.settingWarnings = reading.problems.map { "\($0.description); the default stands" }
        return environment
    }

    public var layout: KernelLayout { KernelLayout(eroot: eroot, version: kernelVersion) }

    /// The package from PN and PVR, for its savedconfig; nil if either is
    /// missing or not a name portage would give.
    public var package: KernelPackage? { KernelPackage(name: packageName, versionAndRevision: packageVersion) }
}
