import Glibc
import Testing

/// The checkout these tests were built from: its overlay, its stand-in
/// ::gentoo, and the Gentoo tools `make deps` installs into its `.venv`.
enum Checkout {
    /// Found from this file's path: Tests/KernelSquashTests/Support/.
    static let root: ByteString = ByteString(#filePath).parent.parent.parent.parent
    static var overlay: ByteString { root / "gentoo" }
    static var package: ByteString { overlay / "sys-kernel/ksqsh" }
    static var standInMaster: ByteString { root / "Tests/KernelSquashTests/Fixtures/gentoo-master" }

    /// The version `ksqsh --version` reports, the one the Makefile reads too.
    static func version() throws -> String {
        let result = try Ksqsh.run(["--version"])
        guard result.succeeded, let line = result.stdoutText.split(separator: "\n").first else {
            throw TestSetupError("ksqsh --version failed: \(result)")
        }
        return String(line)
    }

    /// A program of the venv (`ebuild`, `pkgcheck`); a missing venv is a
    /// failure that says what to do, not a skip: CI runs `make deps` first.
    static func venvProgram(_ name: ByteString) throws -> ByteString {
        let path = root / ".venv/bin" / name
        guard path.withCString({ access($0, X_OK) }) == 0 else {
            throw TestSetupError("\(path) is missing: run make deps (it installs portage and pkgcheck into .venv)")
        }
        return path
    }

    /// A clone of the committed checkout at `destination`, with this
    /// checkout's Package.resolved (ignored by git) so both pin alike: what
    /// `make dist` packs never depends on the working tree's state.
    static func clone(to destination: ByteString) throws {
        try Subprocess.runChecked("git", ["clone", "--quiet", "--no-hardlinks", root, destination])
        let resolved = root / "Package.resolved"
        if FS.exists(resolved) {
            try FS.writeFile(destination / "Package.resolved", FS.readFile(resolved))
        }
    }

    /// `make -C checkout dist DIST_DIR=…`.
    @discardableResult
    static func makeDist(in checkout: ByteString, into directory: ByteString) async throws -> ProcessResult {
        try await Subprocess.runOffPool(
            "make", ["--no-print-directory", "-C", checkout, "dist", "DIST_DIR=" + directory],
            timeout: .seconds(300))
    }
}

/// A throwaway PORTAGE_CONFIGROOT for real portage from the venv: the
/// stand-in ::gentoo as master, a copy of the ksqsh overlay (portage writes
/// its Manifest there) or other repositories, a DISTDIR, a PKGDIR, a PORTAGE_TMPDIR, portage's metadata cache
/// (else in the system's /var/cache/edb), and only the FEATURES this
/// machine can honour: sys-apps/sandbox is in no registry here and Debian
/// has no portage user, so the phases run as root and unsandboxed, but
/// without network (network-sandbox, and `run` adds unshare --net).
struct PortageConfigRoot {
    let path: ByteString
    var overlay: ByteString { path / "overlay" }
    var package: ByteString { overlay / "sys-kernel/ksqsh" }
    var distfiles: ByteString { path / "distfiles" }
    var temporary: ByteString { path / "tmp" }
    var configDirectory: ByteString { path / "etc/portage" }
    /// Programs portage expects under Gentoo's names: GNU tar as `gtar`.
    var shims: ByteString { path / "bin" }
    /// HOME outside the phases (pkgcheck's cache); portage sets its own inside.
    var home: ByteString { path / "home" }

    /// PKGDIR: binary packages (`emerge --buildpkg` writes, `-K` reads).
    var packages: ByteString { path / "packages" }
    /// ROOT, when portage merges into a root of its own (see `targetRoot`).
    let targetRoot: ByteString?

    /// The configuration root for the ksqsh overlay (GentooOverlayTests).
    init(at path: ByteString) throws {
        try self.init(at: path, repositories: [], makeConf: [])
        try Subprocess.runChecked("cp", ["-a", Checkout.overlay, overlay])
        try appendRepository(name: "ksqsh", location: overlay)
    }

    /// A configuration root with the stand-in ::gentoo and `repositories`
    /// (name, location) beside it; `makeConf` lines come after the defaults,
    /// so they win. With `targetRoot`, portage merges into that ROOT.
    init(
        at path: ByteString, repositories: [(name: String, location: ByteString)], makeConf: [String],
        targetRoot: ByteString? = nil
    ) throws {
        self.path = path
        self.targetRoot = targetRoot
        for directory in [configDirectory / "repos.conf", distfiles, temporary, shims, home, packages] {
            try FS.mkdirs(directory)
        }
        try FS.symlink(target: "/usr/bin/tar", at: shims / "gtar")
        try FS.symlink(target: Checkout.standInMaster / "profiles/default/linux/amd64", at: configDirectory / "make.profile")
        // With a ROOT of its own, portage also reads the configuration of the
        // machine it runs on, under its EPREFIX (see run): make.globals there.
        try FS.mkdirs(path / "share/portage")
        try FS.symlink(target: Checkout.root / ".venv/share/portage/config", at: path / "share/portage/config")
        // The venv's make.globals first: with EPREFIX set to "" (see run),
        // portage looks for its defaults under /share, where nothing is.
        // No soname QA: Debian has no installed-package database whose
        // libraries the binary's sonames could resolve against.
        let defaults = """
            source "\(Checkout.root)/.venv/share/portage/config/make.globals"
            FEATURES="${FEATURES} -sandbox -usersandbox -userpriv -usersync -userfetch -qa-unresolved-soname-deps network-sandbox"
            PORTAGE_USERNAME="root"
            PORTAGE_GRPNAME="root"
            PORTAGE_DEPCACHEDIR="\(path / "depcache")"
            PORTAGE_TMPDIR="\(temporary)"
            DISTDIR="\(distfiles)"
            PKGDIR="\(packages)"
            ACCEPT_KEYWORDS="~amd64"
            ACCEPT_LICENSE="*"
            MAKEOPTS="-j\(sysconf(Int32(_SC_NPROCESSORS_ONLN)))"

            """
        try FS.writeFile(configDirectory / "make.conf", Array((defaults + makeConf.map { $0 + "\n" }.joined()).utf8))
        try FS.writeFile(configDirectory / "repos.conf/repos.conf", Array("""
            [DEFAULT]
            main-repo = gentoo

            [gentoo]
            location = \(Checkout.standInMaster)

            """.utf8))
        for repository in repositories {
            try appendRepository(name: repository.name, location: repository.location)
        }
    }

    private func appendRepository(name: String, location: ByteString) throws {
        let file = configDirectory / "repos.conf/repos.conf"
        try FS.writeFile(file, FS.readFile(file) + Array("[\(name)]\nlocation = \(location)\n\n".utf8))
    }

    /// Runs a venv program (`ebuild`, `pkgcheck`) with nothing of the
    /// caller's environment but what is named here, and no network at all.
    /// PATH is what the phases get: portage puts its helpers first and keeps
    /// the caller's PATH (on Gentoo the one env.d builds, where
    /// dev-lang/swift puts `swift`); here the shims and the toolchain's bin
    /// directory lead. HOME is portage's own per-package one in the phases;
    /// GIT_CONFIG_NOSYSTEM keeps /etc/gitconfig's url rewrites (a developer
    /// machine's local mirrors) away from SwiftPM, as on a user's machine.
    ///
    /// With a `targetRoot`, ROOT names it and EPREFIX is empty, while
    /// PORTAGE_OVERRIDE_EPREFIX is this configuration root: for a ROOT other
    /// than /, portage also reads the running machine's configuration, from
    /// its EPREFIX, which Debian does not have. `environment` adds
    /// NAME=VALUE words.
    func run(
        _ program: ByteString, _ arguments: [ByteString], environment extra: [ByteString] = [], timeout: Duration
    ) async throws -> ProcessResult {
        var searchPath = [shims.string]
        if let swift = SwiftToolchain.binDirectory { searchPath.append(swift) }
        searchPath += ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        let environment: [ByteString] = [
            "-i",
            "PATH=" + ByteString(searchPath.joined(separator: ":")),
            "HOME=" + home,
            "LC_ALL=C",
            "TERM=dumb",
            "NOCOLOR=true",
            "GIT_CONFIG_NOSYSTEM=1",
            "PORTAGE_CONFIGROOT=" + path,
        ] + (targetRoot.map { ["ROOT=" + $0, "EPREFIX=", "PORTAGE_OVERRIDE_EPREFIX=" + path] }
            // Portage from PyPI takes the venv for its EPREFIX; the image
            // should have /usr/bin/ksqsh, as on a Gentoo system, not a prefix.
            ?? ["PORTAGE_OVERRIDE_EPREFIX="]) + extra
        return try await Subprocess.runOffPool(
            "env", environment + ["unshare", "--net", "--", try Checkout.venvProgram(program)] + arguments,
            timeout: timeout)
    }

    /// Where `ebuild … install` leaves the package's files (${D}).
    func image(_ pf: String) -> ByteString { temporary / "portage/sys-kernel" / ByteString(pf) / "image" }
}

/// The Swift toolchain the tests were built with, as the shell finds it.
enum SwiftToolchain {
    static let binDirectory: String? = {
        guard let result = try? Subprocess.run("sh", ["-c", "command -v \"${SWIFT:-swift}\""]), result.succeeded else { return nil }
        let driver = result.stdoutText.split(separator: "\n").first.map(String.init) ?? ""
        return FS.realPath(ByteString(driver))?.parent.string
    }()
}
