import Lifecycle
import SystemPackage
import SystemSupport
import Testing

/// What a power cut may leave behind, found by the crash-state checker
/// (issue 16), and how ksqsh takes it afterwards: each case here failed
/// before its fix.
@Suite("Power-cut leftovers: a stray temporary, a hidden image copy, an empty .config")
struct PowerCutLeftoverTests {
    @Test("writeAtomically removes the temporaries an interrupted write of the same file left, and nothing else")
    func strayTemporaries() throws {
        let scratch = try TemporaryDirectory("leftover-temporaries")
        defer { scratch.remove() }
        let target = scratch["gentoo-sources"]
        let strays: [ByteString] = [".gentoo-sources.ksqsh-1a2b3c4d", ".gentoo-sources.ksqsh-ffffffff"]
        let others: [ByteString] = [".gentoo-sources.bak", ".gentoo-sources-extra.ksqsh-1a2b3c4d", ".vanilla-sources.ksqsh-1a2b3c4d", "gentoo-sources.ksqsh-1"]
        for name in strays + others { try FS.writeFile(scratch.path / name, []) }

        try writeAtomically(Array("new\n".utf8), to: FilePath(target.string))

        #expect(try FS.readFile(target) == Array("new\n".utf8))
        #expect(try Set(FS.list(scratch.path)) == Set(others + ["gentoo-sources"]), "only this file's own temporaries go")
    }

    @Test("a squash into an image removes the hidden copy an interrupted squash --force into it left (a whole image's blocks)")
    func strayImageCopy() throws {
        let scratch = try TemporaryDirectory("leftover-image")
        defer { scratch.remove() }
        try FS.mkdirs(scratch["tree"])
        try FS.writeFile(scratch["tree/a.c"], Array("int a;\n".utf8))
        let stray = scratch[".linux.sqfs.ksqsh-0badcafe"]
        try FS.writeFile(stray, Array(repeating: 7, count: 4096))

        expectSuccess(try Ksqsh.run(["squash", scratch["tree"], scratch["linux.sqfs"], "--force", "--quiet"]))

        #expect(!FS.exists(stray))
        expectSuccess(try Ksqsh.verify(scratch["linux.sqfs"], against: scratch["tree"]))
    }

    @Test("an empty build-dir .config (a cut before the kernel's make synced it) is passed over for the saved config")
    func emptyConfigIsNoConfig() throws {
        let scratch = try TemporaryDirectory("leftover-empty-config")
        defer { scratch.remove() }
        let layout = KernelLayout(eroot: FilePath(scratch.path.string), version: KernelVersion("6.12.10-gentoo")!)
        let own = ByteString(layout.buildDirectory.appending(".config").string)
        let saved = ByteString(layout.savedConfig.string)
        try FS.mkdirs(own.parent)
        try FS.mkdirs(saved.parent)
        try FS.writeFile(own, [])
        try FS.writeFile(saved, KernelConfig.withMarker("saved"))

        var chain = ConfigChain(layout: layout)
        chain.runningKernelConfig = FilePath(scratch["no-config.gz"].string)
        #expect(chain.choose() == ConfigChoice(base: .saved(layout.savedConfig)))

        // Nor does saving the empty one push the saved one aside (clean, adopt, installkernel).
        #expect(try SavedConfigs.save(layout.buildDirectory.appending(".config"), for: layout) == .empty(layout.savedConfig))
        #expect(try FS.readFile(saved) == KernelConfig.withMarker("saved"))
        #expect(try FS.list(saved.parent) == [saved.lastComponent], "no archived copy either")
    }
}
