import Lifecycle
import SystemPackage
import Testing

/// PN, PV, PVR, P and PF as portage derives them: the names the config chain
/// looks up in etc/portage/savedconfig/sys-kernel.
@Suite("Kernel packages: PN, PV, PVR, P from PF")
struct KernelPackageTests {
    @Test(
        "PF splits at the '-' that the version follows",
        arguments: [
            ("gentoo-sources-6.12.10-r1", "gentoo-sources", "6.12.10", "6.12.10-r1", "gentoo-sources-6.12.10"),
            ("gentoo-sources-6.12.10", "gentoo-sources", "6.12.10", "6.12.10", "gentoo-sources-6.12.10"),
            ("vanilla-sources-6.13_rc3", "vanilla-sources", "6.13_rc3", "6.13_rc3", "vanilla-sources-6.13_rc3"),
            ("git-sources-6.13_rc3_p20250101-r2", "git-sources", "6.13_rc3_p20250101", "6.13_rc3_p20250101-r2", "git-sources-6.13_rc3_p20250101"),
            ("zen-sources-6.12.10b", "zen-sources", "6.12.10b", "6.12.10b", "zen-sources-6.12.10b"),
            // -r0 is no revision: PVR is PV, as portage writes it.
            ("gentoo-sources-6.12.10-r0", "gentoo-sources", "6.12.10", "6.12.10", "gentoo-sources-6.12.10"),
        ])
    func splitsFullName(_ fullName: String, _ name: String, _ version: String, _ versionAndRevision: String, _ nameAndVersion: String) throws {
        let package = try #require(KernelPackage(fullName: fullName))
        #expect(package.name == name)
        #expect(package.version == version)
        #expect(package.versionAndRevision == versionAndRevision)
        #expect(package.nameAndVersion == nameAndVersion)
    }

    @Test("PN and PVR from a hook give the same package as its PF")
    func fromNameAndVersion() throws {
        let package = try #require(KernelPackage(name: "gentoo-sources", versionAndRevision: "6.12.10-r1"))
        #expect(package == KernelPackage(fullName: "gentoo-sources-6.12.10-r1"))
        #expect(package.fullName == "gentoo-sources-6.12.10-r1")
        #expect(package.revision == "1")
    }

    @Test(
        "names that are no package, or could reach another path, are refused",
        arguments: [
            "gentoo-sources", "gentoo-sources-", "-6.12", "../../x-1.0", "a/b-1.0", "gentoo-sources-6.12.10-r", "gentoo-sources-6..12",
            "gentoo-sources-6.12.10-rc1", "gentoo-sources-6.12_bogus1", ".hidden-1.0", "",
            // PN may not end in '-' and a version: the split would be ambiguous.
            "foo-1-2.3",
        ])
    func refuses(_ fullName: String) {
        #expect(KernelPackage(fullName: fullName) == nil, "\(fullName)")
    }

    @Test("an empty or unsafe PN or PVR from the environment gives no package")
    func refusesEnvironmentValues() {
        #expect(KernelPackage(name: "", versionAndRevision: "6.12.10") == nil)
        #expect(KernelPackage(name: "gentoo-sources", versionAndRevision: "") == nil)
        #expect(KernelPackage(name: "../gentoo-sources", versionAndRevision: "6.12.10") == nil)
        #expect(KernelPackage(name: "gentoo-sources", versionAndRevision: "6.12.10/../x") == nil)
    }
}

/// Which package installed a version, from EROOT/var/db/pkg alone.
@Suite("Kernel packages: the owner in var/db/pkg")
struct InstalledPackageTests {
    @Test("by its image, else by its plain sources' top directory (before adopt); never by another version's or a subdirectory")
    func ownerOfVersion() throws {
        let directory = try TemporaryDirectory("vdb")
        defer { directory.remove() }
        let database = directory["var/db/pkg/sys-kernel"]
        func contents(_ fullName: ByteString, _ lines: String) throws {
            try FS.mkdirs(database / fullName)
            try FS.writeFile(database / fullName / "CONTENTS", Array(lines.utf8))
        }
        try contents("gentoo-sources-6.12.10-r1", "dir /usr/src\nobj /usr/src/linux-6.12.10-gentoo-r1.sqfs d41d8cd98f00b204e9800998ecf8427e 1700000000\n")
        try contents("gentoo-sources-6.6.58", "dir /usr/src/linux-6.6.58-gentoo\ndir /usr/src/linux-6.6.58-gentoo/arch\n")
        try contents("vanilla-sources-6.1.0", "dir /usr/src/linux-6.1.0/include\nobj /usr/src/linux-6.1.0/Makefile d41d8cd98f00b204e9800998ecf8427e 1700000000\n")
        let packages = InstalledPackages(eroot: FilePath(directory.path.string))
        func owner(_ version: String) -> String? {
            packages.package(of: KernelLayout(eroot: FilePath(directory.path.string), version: KernelVersion(version)!))?.fullName
        }

        #expect(owner("6.12.10-gentoo-r1") == "gentoo-sources-6.12.10-r1", "the image's owner")
        #expect(owner("6.6.58-gentoo") == "gentoo-sources-6.6.58", "the plain sources' owner")
        #expect(owner("6.12.10-gentoo") == nil, "another version's image is not this version's")
        #expect(owner("6.1.0") == nil, "files inside a tree do not name its top directory's owner")
    }
}
