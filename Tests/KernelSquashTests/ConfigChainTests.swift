import Lifecycle
import SystemPackage
import Testing

/// Which config the build dir starts from, decided from the files under a
/// scratch EROOT alone: no mount, no make.
@Suite("Config chain: the order of sources, and ROOT ≠ /")
struct ConfigChainTests {
    private let version = KernelVersion("6.12.10-gentoo-r1")!
    private let package = KernelPackage(fullName: "gentoo-sources-6.12.10-r1")!

    /// A scratch EROOT with every source of the chain in place, and a
    /// stand-in for /proc/config.gz.
    private struct Scratch {
        let directory: TemporaryDirectory
        let layout: KernelLayout
        let runningKernel: FilePath

        init(version: KernelVersion) throws {
            directory = try TemporaryDirectory("config-chain")
            layout = KernelLayout(eroot: FilePath(directory.path.string), version: version)
            runningKernel = FilePath(directory["config.gz"].string)
        }

        func write(_ path: FilePath) throws {
            let bytes = ByteString(path.string)
            try FS.mkdirs(bytes.parent)
            try FS.writeFile(bytes, Array("CONFIG_LOCALVERSION=\"-test\"\n".utf8))
        }

        func remove(_ path: FilePath) throws { try FS.unlink(ByteString(path.string)) }
    }

    private func chain(_ scratch: Scratch, root: FilePath = "/", given: FilePath? = nil) -> ConfigChain {
        var chain = ConfigChain(layout: scratch.layout, given: given)
        chain.root = root
        chain.package = package
        chain.runningKernelConfig = scratch.runningKernel
        return chain
    }

    @Test("each source wins over every one below it: given, build dir, etc/kernels, savedconfig PF → P → PN, other version, /proc/config.gz, defconfig")
    func order() throws {
        let scratch = try Scratch(version: version)
        defer { scratch.directory.remove() }
        let layout = scratch.layout
        let given = FilePath(scratch.directory["given.config"].string)
        let existing = layout.buildDirectory.appending(".config")
        let savedconfig = layout.portageSavedConfigsDirectory
        let other = layout.savedConfigsDirectory.appending("kernel-config-6.11.3-gentoo")
        for path in [given, existing, layout.savedConfig, other, scratch.runningKernel]
            + ["gentoo-sources-6.12.10-r1", "gentoo-sources-6.12.10", "gentoo-sources"].map({ savedconfig.appending($0) })
        {
            try scratch.write(path)
        }

        // Peel the sources off from the top: each time the next one wins.
        let expected: [(ConfigSource, FilePath?)] = [
            (.given(given), nil),
            (.existing(existing), existing),
            (.saved(layout.savedConfig), layout.savedConfig),
            (.portageSavedConfig(savedconfig.appending("gentoo-sources-6.12.10-r1")), savedconfig.appending("gentoo-sources-6.12.10-r1")),
            (.portageSavedConfig(savedconfig.appending("gentoo-sources-6.12.10")), savedconfig.appending("gentoo-sources-6.12.10")),
            (.portageSavedConfig(savedconfig.appending("gentoo-sources")), savedconfig.appending("gentoo-sources")),
            (.otherVersion(other, KernelVersion("6.11.3-gentoo")!), other),
            (.runningKernel(scratch.runningKernel), scratch.runningKernel),
            (.defconfig, nil),
        ]
        for (index, (source, removeAfter)) in expected.enumerated() {
            #expect(chain(scratch, given: index == 0 ? given : nil).choose() == ConfigChoice(base: source), "step \(index): \(source)")
            if let removeAfter { try scratch.remove(removeAfter) }
        }
    }

    @Test("ROOT ≠ / never takes the build host's /proc/config.gz: it says so and goes on to defconfig")
    func otherRootSkipsRunningKernel() throws {
        let scratch = try Scratch(version: version)
        defer { scratch.directory.remove() }
        try scratch.write(scratch.runningKernel)
        let root = FilePath(scratch.directory.path.string)

        let choice = chain(scratch, root: root).choose()
        #expect(choice == ConfigChoice(base: .defconfig, notes: [.runningKernelSkipped(scratch.runningKernel, root: root)]))
        #expect(choice.notes.first?.description.contains("ROOT is \(root)") == true, "\(choice.notes)")
        // "/" spelled otherwise is still the running system.
        #expect(chain(scratch, root: "//").choose() == ConfigChoice(base: .runningKernel(scratch.runningKernel)))
    }

    @Test("ROOT ≠ / still takes every source that belongs to the root itself")
    func otherRootKeepsItsOwnSources() throws {
        let scratch = try Scratch(version: version)
        defer { scratch.directory.remove() }
        let savedconfig = scratch.layout.portageSavedConfigsDirectory.appending("gentoo-sources")
        try scratch.write(savedconfig)
        try scratch.write(scratch.runningKernel)

        #expect(chain(scratch, root: FilePath(scratch.directory.path.string)).choose() == ConfigChoice(base: .portageSavedConfig(savedconfig)))
    }

    @Test("savedconfig needs the package: without PN/PVR, or for another package, it is not taken; a directory there is passed over")
    func savedconfigNeedsThePackage() throws {
        let scratch = try Scratch(version: version)
        defer { scratch.directory.remove() }
        let directory = scratch.layout.portageSavedConfigsDirectory
        try scratch.write(directory.appending("vanilla-sources"))
        try FS.mkdirs(ByteString(directory.appending("gentoo-sources-6.12.10-r1").string))
        try scratch.write(directory.appending("gentoo-sources"))

        var anonymous = chain(scratch)
        anonymous.package = nil
        #expect(anonymous.choose() == ConfigChoice(base: .defconfig))
        #expect(chain(scratch).choose() == ConfigChoice(base: .portageSavedConfig(directory.appending("gentoo-sources"))))
    }
}
