/// The ebuild phase hooks ksqsh defines, in the order portage runs them
/// for a fresh install (src phases only when building from source).
public enum Phase: String, CaseIterable, Sendable {
    case preSrcInstall = "pre_src_install"
    case postSrcInstall = "post_src_install"
    case prePkgPreinst = "pre_pkg_preinst"
    case postPkgPostinst = "post_pkg_postinst"
    case prePkgPrerm = "pre_pkg_prerm"
    case postPkgPostrm = "post_pkg_postrm"

    /// Whether a failure must stop portage (`die`): only where stopping
    /// protects something. In src_install the build fails with the tree
    /// intact; in preinst the merge is aborted. After that, dying only
    /// prints an error while portage goes on, so those hooks report and
    /// leave the system usable instead.
    public var failureStopsPortage: Bool {
        switch self {
        case .preSrcInstall, .postSrcInstall, .prePkgPreinst: true
        case .postPkgPostinst, .prePkgPrerm, .postPkgPostrm: false
        }
    }

    /// Whether portage runs this phase inside its sandbox, where only
    /// PORTAGE_TMPDIR (WORKDIR, D, T) may be written.
    public var runsInSandbox: Bool {
        self == .preSrcInstall || self == .postSrcInstall
    }
}
