import Lifecycle
import Portage
import SystemPackage
import SystemSupport
import Testing

/// What ksqsh decides in each phase, from portage's variables alone.
@Suite("Phase plans")
struct PhasePlanTests {
    private func environment(_ overrides: [String: String] = [:]) throws -> PortageEnvironment {
        var variables = [
            "ROOT": "/", "EPREFIX": "", "EROOT": "/", "KV_FULL": "6.12.10-gentoo", "PN": "gentoo-sources",
            "PVR": "6.12.10", "WORKDIR": "/var/tmp/portage/sys-kernel/gentoo-sources-6.12.10/work",
            "ED": "/var/tmp/portage/sys-kernel/gentoo-sources-6.12.10/image", "USE": "symlink", "MERGE_TYPE": "source",
        ]
        variables.merge(overrides) { $1 }
        return try PortageEnvironment(variables)
    }

    private let layout = KernelLayout(eroot: "/", version: KernelVersion("6.12.10-gentoo")!)

    @Test("pre_src_install squashes S next to itself, where kernel-2 picks it up, reusing the package's newest installed image")
    func squashBesideSources() throws {
        let work = "/var/tmp/portage/sys-kernel/gentoo-sources-6.12.10/work"
        #expect(PhasePlan.actions(for: .preSrcInstall, in: try environment()) == [
            .squashSources(
                tree: FilePath(work + "/linux-6.12.10-gentoo"), image: FilePath(work + "/linux-6.12.10-gentoo.sqfs"),
                reusing: PreviousImages(sourcesDirectory: "/usr/src", packageName: "gentoo-sources"))
        ])
    }

    @Test("post_src_install checks the package image, under ED")
    func checkImageUnderED() throws {
        let image = "/var/tmp/portage/sys-kernel/gentoo-sources-6.12.10/image/usr/src"
        #expect(PhasePlan.actions(for: .postSrcInstall, in: try environment()) == [
            .checkPackageImage(image: FilePath(image + "/linux-6.12.10-gentoo.sqfs"), mountPoint: FilePath(image + "/linux-6.12.10-gentoo"))
        ])
    }

    @Test("postinst mounts and prepares; USE=symlink decides the link; KSQSH_PREPARE=modules adds modules_prepare")
    func postinst() throws {
        #expect(PhasePlan.actions(for: .postPkgPostinst, in: try environment()) == [.mountAndPrepare(layout, symlink: true, modules: false)])
        #expect(PhasePlan.actions(for: .postPkgPostinst, in: try environment(["USE": "build", "KSQSH_PREPARE": "modules"])) == [
            .mountAndPrepare(layout, symlink: false, modules: true)
        ])
    }

    @Test("A binary package plans the same postinst (no src phases ran)")
    func binaryPackage() throws {
        #expect(PhasePlan.actions(for: .postPkgPostinst, in: try environment(["MERGE_TYPE": "binary", "WORKDIR": ""])) == [
            .mountAndPrepare(layout, symlink: true, modules: false)
        ])
    }

    @Test("preinst and prerm unmount")
    func unmounts() throws {
        #expect(PhasePlan.actions(for: .prePkgPreinst, in: try environment()) == [.unmount(layout)])
        #expect(PhasePlan.actions(for: .prePkgPrerm, in: try environment(["MERGE_TYPE": ""])) == [.unmountAndRemoveMountPoint(layout)])
    }

    @Test("postrm keeps the build dir when the same version replaces itself, cleans otherwise")
    func postrm() throws {
        let reinstall = PhasePlan.actions(for: .postPkgPostrm, in: try environment(["REPLACED_BY_VERSION": "6.12.10", "MERGE_TYPE": ""]))
        guard case .keep = reinstall.first, reinstall.count == 1 else {
            Issue.record("a same-version reinstall must keep the build dir, got \(reinstall)")
            return
        }
        #expect(PhasePlan.actions(for: .postPkgPostrm, in: try environment(["MERGE_TYPE": ""])) == [.clean(layout)])
        #expect(PhasePlan.actions(for: .postPkgPostrm, in: try environment(["REPLACED_BY_VERSION": "6.12.10-r1"])) == [.clean(layout)])
    }

    @Test("EROOT comes from portage, else from ROOT and EPREFIX")
    func eroot() throws {
        #expect(try environment(["ROOT": "/mnt/gentoo/", "EROOT": "/mnt/gentoo/"]).layout.image == "/mnt/gentoo/usr/src/linux-6.12.10-gentoo.sqfs")
        #expect(try environment(["ROOT": "/", "EPREFIX": "/opt/gentoo", "EROOT": ""]).layout.mountPoint == "/opt/gentoo/usr/src/linux-6.12.10-gentoo")
    }

    @Test("A KV_FULL that is not a version is refused before anything is planned",
          arguments: ["", "6.12.10-gentoo; rm -rf /", "../../etc", "6.12.10/../x", "$(id)", "-rf"])
    func badVersion(text: String) {
        #expect(throws: KsqshError.self) { try environment(["KV_FULL": text]) }
    }

    @Test("Failures stop portage only where stopping protects something")
    func failurePolicy() {
        #expect(Phase.allCases.filter(\.failureStopsPortage) == [.preSrcInstall, .postSrcInstall, .prePkgPreinst])
        #expect(Phase.allCases.filter(\.runsInSandbox) == [.preSrcInstall, .postSrcInstall])
    }

    @Test("Kernel versions sort as sort -V does")
    func versionOrder() {
        let sorted = ["6.10.2-gentoo", "6.9.1-gentoo", "6.12.10-gentoo-r1", "6.12.10-gentoo", "6.12.9-gentoo", "5.15.170-gentoo"]
            .compactMap(KernelVersion.init).sorted().map(\.text)
        #expect(sorted == ["5.15.170-gentoo", "6.9.1-gentoo", "6.10.2-gentoo", "6.12.9-gentoo", "6.12.10-gentoo", "6.12.10-gentoo-r1"])
    }
}
