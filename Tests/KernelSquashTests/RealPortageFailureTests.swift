import Testing

/// What goes wrong under real portage: the squash fails (disk full; with
/// KSQSH_FALLBACK=plain, plain sources instead), a refused value in
/// ksqsh.conf, and FEATURES=mount-sandbox, whose private mount namespace
/// swallows the postinst mount.
@Suite(
    "Real portage: squash failures, KSQSH_FALLBACK=plain, ksqsh.conf, FEATURES=mount-sandbox",
    .serialized,
    .timeLimit(.minutes(10)),
    .realPortageMachine
)
struct RealPortageFailureTests {
    static let kv = GentooSources.kernelVersion("6.12.10")

    @Test("Disk full in WORKDIR: src_install dies, the sources are intact, nothing is merged")
    func diskFull() async throws {
        let machine = try RealPortageMachine("disk-full", .init(temporarySize: "128m"))
        defer { machine.tearDown() }
        try machine.installHooks()
        // After the unpack, PORTAGE_TMPDIR is filled up to its last 256 KiB:
        // the image cannot be written.
        let fill = #"avail=$(df --output=avail -B1 "$1" | tail -n 1); fallocate -l $((avail - 262144)) "$1/../filler""#
        let run = try await machine.install("6.12.10", environment: ["KSQSH_TEST_AFTER_UNPACK=" + ByteString(fill)])
        #expect(run.exitCode == 1, "the build must fail:\n\(run)")
        #expect(run.contains("ksqsh could not squash the kernel sources"), "\(run)")
        try Self.expectSourcesIntact(machine)
        #expect(!machine.isInstalled("6.12.10"))
        PortageExpectations.nothingStray(machine, usrSrc: [], mounted: [])
    }

    @Test("KSQSH_FALLBACK=plain: a squash that fails installs the plain sources; nothing is mounted; the unmerge removes them")
    func fallbackToPlain() async throws {
        let machine = try RealPortageMachine("fallback")
        defer { machine.tearDown() }
        try machine.installHooks()
        // Something takes the image's place, so the squash cannot write it.
        // (A full disk cannot show the fallback: the plain sources need more
        // room than the image did.)
        let block = "mkdir \"$1/linux-\(Self.kv).sqfs\""
        let run = try await machine.install(
            "6.12.10", environment: ["KSQSH_TEST_AFTER_UNPACK=" + ByteString(block), "KSQSH_FALLBACK=plain"]
        ).requireSuccess()
        #expect(run.contains("KSQSH_FALLBACK=plain: installing the sources unsquashed"), "\(run)")
        #expect(machine.isInstalled("6.12.10"))
        let installed = machine.root.mountPoint(Self.kv)
        #expect(Set(try Manifest.scan(installed).paths) == Set(try Manifest.scan(try KernelSkeleton.kconfig.tree()).paths), "ROOT does not hold the plain tree")
        PortageExpectations.symlink(machine, "linux-" + Self.kv)
        PortageExpectations.nothingStray(machine, usrSrc: ["linux", "linux-" + Self.kv.string], mounted: [])

        try await machine.unmerge("6.12.10").requireSuccess()
        #expect(!machine.isInstalled("6.12.10"))
        #expect(!FS.exists(installed), "the plain sources are left")
    }

    @Test("FEATURES=mount-sandbox: postinst warns that its mount vanishes with the phase, and none is left behind")
    func mountSandbox() async throws {
        let machine = try RealPortageMachine("mount-sandbox")
        defer { machine.tearDown() }
        try machine.installHooks()
        let run = try await machine.install("6.12.10", environment: ["FEATURES=mount-sandbox"]).requireSuccess()
        #expect(
            run.contains("warning: FEATURES=mount-sandbox: this mount vanishes when the phase ends."),
            "postinst did not warn:\n\(run)")
        PortageExpectations.installed(machine, "6.12.10")
        // The mount was made in portage's private namespace and went with it.
        #expect(machine.root.mounts.isEmpty, "\(machine.root.mounts)")
        #expect(LoopDevices.attached(to: machine.root.image(Self.kv)).isEmpty, "a loop device outlived the namespace")
        // What the boot script runs mounts it for good.
        let mount = try machine.root.ksqsh("mount", kernel: Self.kv)
        #expect(mount.succeeded, "\(mount)")
        PortageExpectations.mounted(machine, Self.kv)
        try await machine.unmerge("6.12.10").requireSuccess()
        PortageExpectations.nothingStray(machine, usrSrc: [], mounted: [])
    }

    @Test("ksqsh.conf: a refused value stops src_install in one line naming the file, the key and the values allowed, the sources untouched; once fixed, the image is squashed as it says")
    func settings() async throws {
        let machine = try RealPortageMachine("settings")
        defer { machine.tearDown() }
        try machine.installHooks()
        try FS.writeFile(machine.settings, Array("KSQSH_COMPRESSION=zstd\nKSQSH_BLOCK_SIZE=100K\n".utf8))
        let refused = try await machine.install("6.12.10")
        #expect(refused.exitCode == 1, "the build must fail:\n\(refused)")
        #expect(
            refused.contains("\(machine.settings): line 2: KSQSH_BLOCK_SIZE=100K is not one of: a power of two from 4K to 1M"),
            "\(refused)")
        try Self.expectSourcesIntact(machine)
        #expect(!machine.isInstalled("6.12.10"))

        try FS.writeFile(machine.settings, Array("KSQSH_COMPRESSION=zstd\nKSQSH_BLOCK_SIZE=128K\n".utf8))
        try await machine.install("6.12.10").requireSuccess()
        let superBlock = try SuperBlock(file: machine.root.image(Self.kv))
        #expect(SuperBlock.compressionNames[superBlock.compressionID] == "zstd")
        #expect(superBlock.blockSize == 128 << 10)
        PortageExpectations.mounted(machine, Self.kv)
        try await machine.unmerge("6.12.10").requireSuccess()
        PortageExpectations.nothingStray(machine, usrSrc: [], mounted: [])
    }

    /// S holds exactly the tree src_unpack copied, and no image was left beside it.
    static func expectSourcesIntact(_ machine: RealPortageMachine, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let tree = machine.sourceDirectory("6.12.10")
        var comparison = Manifest.Comparison()
        comparison.ownership = .ignore
        let differences = Manifest.differences(actual: try Manifest.scan(tree), expected: try Manifest.scan(try KernelSkeleton.kconfig.tree()), comparison)
        #expect(differences.isEmpty, "the sources in WORKDIR changed:\n\(differences.joined(separator: "\n"))", sourceLocation: sourceLocation)
        let left = try FS.list(tree.parent)
        #expect(left == ["linux-" + kv], "WORKDIR holds \(left)", sourceLocation: sourceLocation)
    }
}
