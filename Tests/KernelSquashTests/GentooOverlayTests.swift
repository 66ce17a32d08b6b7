import Glibc
import Testing

/// The overlay in gentoo/, checked by Gentoo's own tools from the venv
/// (`make deps`): pkgcheck, and real portage building the release ebuild
/// from the tarballs of `make dist`, offline. Its master is the stand-in
/// ::gentoo in Fixtures/gentoo-master (CI has no ::gentoo checkout).
@Suite("Gentoo overlay: pkgcheck, version drift, a real portage build", .serialized, .timeLimit(.minutes(30)))
struct GentooOverlayTests {
    @Test("The release ebuild's version is the version ksqsh reports, and there is one release ebuild beside the live one")
    func ebuildVersionMatchesBinary() throws {
        let version = try Checkout.version()
        let ebuilds = try FS.list(Checkout.package).map(\.string).filter { $0.hasSuffix(".ebuild") }.sorted()
        #expect(ebuilds == ["ksqsh-\(version).ebuild", "ksqsh-9999.ebuild"].sorted(), "ebuilds: \(ebuilds); ksqsh --version: \(version)")
    }

    @Test("pkgcheck scan finds no error and no warning in the overlay (with the Manifest a release has)")
    func pkgcheckClean() async throws {
        let scratch = try TemporaryDirectory("gentoo-pkgcheck")
        defer { scratch.remove() }
        let portage = try await Self.release(in: scratch)
        let manifest = try await portage.run("ebuild", [try Self.releaseEbuild(portage), "manifest"], timeout: .seconds(120))
        try #require(manifest.succeeded, "\(manifest)")

        let scan = try await portage.run(
            "pkgcheck",
            ["--config", portage.configDirectory, "scan", "--reporter", "FormatReporter",
             "--format", "{level}: {category}/{package}-{version}: {name}: {desc}", portage.overlay],
            timeout: .seconds(300))
        #expect(scan.succeeded, "\(scan)")
        let findings = scan.stdoutText.split(separator: "\n").filter { $0.hasPrefix("error:") || $0.hasPrefix("warning:") }
        #expect(findings.isEmpty, "pkgcheck:\n\(findings.joined(separator: "\n"))")
        // Anything of a lower level is printed, for whoever reads the log.
        if !scan.stdoutText.isEmpty { print("pkgcheck (style and info):\n\(scan.stdoutText)") }
    }

    /// The files `ebuild … install` leaves in the image, relative to it.
    /// The man page and README are compressed by portage (PORTAGE_COMPRESS
    /// of the stand-in profile: bzip2).
    static func expectedImage(version: String) -> Set<String> {
        [
            "usr/bin/ksqsh",
            "usr/share/doc/ksqsh-\(version)/README.md.bz2",
            "usr/share/man/man1/ksqsh.1.bz2",
            "usr/share/bash-completion/completions/ksqsh",
            "usr/share/zsh/site-functions/_ksqsh",
            "usr/share/fish/vendor_completions.d/ksqsh.fish",
            "etc/init.d/ksqsh",
            "usr/lib/systemd/system/ksqsh-mount.service",
        ]
    }

    @Test("Real portage builds the release ebuild offline and installs exactly the expected files; the binary runs without the Swift toolchain; pkg_postinst names ksqsh hooks install")
    func portageBuildsOffline() async throws {
        let scratch = try TemporaryDirectory("gentoo-portage")
        defer { scratch.remove() }
        let portage = try await Self.release(in: scratch)
        let version = try Checkout.version()

        // One portage run: the Manifest for the two tarballs, every phase up
        // to src_install (a full release build of ksqsh, a few minutes on
        // two cores), then pkg_postinst, which merges nothing but says what to do.
        let run = try await portage.run(
            "ebuild", [try Self.releaseEbuild(portage), "manifest", "clean", "install", "postinst"], timeout: .seconds(1500))
        try #require(run.succeeded, "\(run)")
        let output = run.stdoutText + run.stderrText
        #expect(!output.contains("QA Notice"), "portage's QA checks complained:\n\(run)")
        #expect(output.contains("ksqsh hooks install"), "pkg_postinst does not say how to install the hooks:\n\(run)")

        let image = portage.image("ksqsh-\(version)")
        let listing = try Subprocess.runChecked("find", [image, "-mindepth", "1", "!", "-type", "d", "-printf", "%P\\n"])
        let installed = Set(listing.stdoutText.split(separator: "\n").map(String.init))
        let expected = Self.expectedImage(version: version)
        #expect(
            installed == expected,
            "image holds \(installed.sorted()); missing: \(expected.subtracting(installed).sorted()), extra: \(installed.subtracting(expected).sorted())")

        // The installed binary needs no Swift toolchain: dev-lang/swift is a BDEPEND only.
        let binary = image / "usr/bin/ksqsh"
        let hide = Checkout.root / "scripts/without-swift-toolchain"
        let reported = try Subprocess.run(hide, [binary, "--version"])
        #expect(reported.succeeded && reported.stdoutText == version + "\n", "\(reported)")
        let hook = try Subprocess.run(hide, [binary, "hooks", "print"])
        #expect(hook.succeeded && hook.stdoutText.contains("pre_src_install"), "\(hook)")
    }

    /// A fresh PORTAGE_CONFIGROOT whose DISTDIR holds what `make dist`
    /// packs in a clone of the committed checkout. The overlay is a copy of
    /// the working tree's, so an edited ebuild is checked before its commit.
    static func release(in scratch: TemporaryDirectory) async throws -> PortageConfigRoot {
        let portage = try PortageConfigRoot(at: scratch["portage"])
        let checkout = scratch["ksqsh"]
        try Checkout.clone(to: checkout)
        let dist = try await Checkout.makeDist(in: checkout, into: portage.distfiles)
        try #require(dist.succeeded, "\(dist)")
        return portage
    }

    /// The release ebuild in the overlay copy.
    static func releaseEbuild(_ portage: PortageConfigRoot) throws -> ByteString {
        portage.package / ByteString("ksqsh-\(try Checkout.version()).ebuild")
    }
}
