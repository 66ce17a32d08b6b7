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
    /// KSQSH_FALLBACK=plain: if squashing fails, install plain sources instead of failing.
    public var fallbackToPlain: Bool
    /// KSQSH_PREPARE=modules: also run make modules_prepare after install.
    public var prepareModules: Bool

    /// The names a hook passes on; anything else in the environment is ignored.
    public static let forwardedVariables = [
        "ROOT", "EPREFIX", "EROOT", "ED", "WORKDIR", "KV_FULL", "PN", "PVR", "USE", "MERGE_TYPE",
        "REPLACING_VERSIONS", "REPLACED_BY_VERSION", "FEATURES", "KSQSH_FALLBACK", "KSQSH_PREPARE",
    ]

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
        fallbackToPlain = value("KSQSH_FALLBACK") == "plain"
        prepareModules = value("KSQSH_PREPARE").split(separator: " ").contains("modules")
    }

    public var layout: KernelLayout { KernelLayout(eroot: eroot, version: kernelVersion) }

    /// The package from PN and PVR, for its savedconfig; nil if either is
    /// missing or not a name portage would give.
    public var package: KernelPackage? { KernelPackage(name: packageName, versionAndRevision: packageVersion) }
}
