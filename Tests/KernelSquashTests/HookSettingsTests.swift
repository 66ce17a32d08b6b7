import ImageEngine
import Portage
import SquashFSFormat
import SystemPackage
import SystemSupport
import Testing

/// The hook settings: EPREFIX/etc/ksqsh.conf, overridden by portage's
/// KSQSH_* variables; every refused value named with its file, line and the
/// values allowed.
@Suite("Hook settings (ksqsh.conf and KSQSH_* variables)")
struct HookSettingsTests {
    /// Reads `text` as the settings file, with `variables` on top.
    private func read(_ text: String?, _ variables: [String: String] = [:]) throws -> (HookSettings.Reading, FilePath) {
        let directory = try TemporaryDirectory("settings")
        defer { directory.remove() }
        let file = directory["ksqsh.conf"]
        if let text { try FS.writeFile(file, Array(text.utf8)) }
        return (HookSettings.read(file: FilePath(file.string), variables: variables), FilePath(file.string))
    }

    @Test("no file: the defaults (xz, 1M blocks, every core, layout by tree, config only, fail on errors)")
    func defaults() throws {
        let (reading, _) = try read(nil)
        #expect(reading.problems.isEmpty)
        #expect(reading.settings == HookSettings())
        let options = reading.settings.squashOptions
        #expect(options.compression == .xz && options.blockSize == 1 << 20 && options.jobs == Processors.available && options.layout == nil)
    }

    @Test("the file: comments, blank lines, quotes and spaces around '=' as make.conf writes them")
    func fileValues() throws {
        let (reading, _) = try read("""
            # squash faster on this Pi
            KSQSH_COMPRESSION="zstd"

            KSQSH_BLOCK_SIZE = 256K
            KSQSH_JOBS='2'
            KSQSH_LAYOUT=plain
            KSQSH_PREPARE=modules
            KSQSH_FALLBACK=plain
            """)
        #expect(reading.problems.isEmpty, "\(reading.problems)")
        let settings = reading.settings
        #expect(settings.compression == .zstd)
        #expect(settings.blockSize == 256 << 10)
        #expect(settings.jobs == 2)
        #expect(settings.layout == .plain)
        #expect(settings.prepareModules)
        #expect(settings.fallbackToPlain)
        #expect(settings.squashOptions.jobs == 2 && settings.squashOptions.compression == .zstd)
    }

    @Test("portage's variables override the file, key by key; an empty variable is no override")
    func environmentWins() throws {
        let (reading, _) = try read(
            "KSQSH_COMPRESSION=zstd\nKSQSH_JOBS=2\nKSQSH_PREPARE=modules\n",
            ["KSQSH_COMPRESSION": "gzip", "KSQSH_JOBS": "all", "KSQSH_PREPARE": ""])
        #expect(reading.problems.isEmpty, "\(reading.problems)")
        #expect(reading.settings.compression == .gzip)
        #expect(reading.settings.jobs == nil, "'all' is every core")
        #expect(reading.settings.prepareModules, "empty (unset in portage) leaves the file's value")
    }

    @Test("a refused value names the file, the line, the key and the allowed values; the default stands")
    func refusedFileValue() throws {
        let (reading, file) = try read("KSQSH_JOBS=4\nKSQSH_COMPRESSION=lz5\n")
        #expect(reading.settings.compression == .xz)
        #expect(reading.settings.jobs == 4, "the other keys still apply")
        let problem = try #require(reading.problems.first)
        #expect(reading.problems.count == 1)
        #expect(problem.kind == .settingInvalid)
        let allowed = Compression.allCases.filter(\.isAvailable).map(\.rawValue).joined(separator: ", ")
        #expect(problem.description == "\(file): line 2: KSQSH_COMPRESSION=lz5 is not one of: \(allowed)")
        #expect(KsqshError(.settingInvalid, "").exitStatus == 71)
    }

    @Test("each key refuses what it cannot use", arguments: [
        ("KSQSH_COMPRESSION", "XZ"), ("KSQSH_BLOCK_SIZE", "3K"), ("KSQSH_BLOCK_SIZE", "2M"), ("KSQSH_JOBS", "0"),
        ("KSQSH_JOBS", "many"), ("KSQSH_LAYOUT", "fast"), ("KSQSH_PREPARE", "yes"), ("KSQSH_FALLBACK", "yes"),
    ])
    func refusedVariable(key: String, value: String) throws {
        let (reading, _) = try read(nil, [key: value])
        #expect(reading.settings == HookSettings())
        let problem = try #require(reading.problems.first)
        #expect(problem.path == nil)
        #expect(problem.description.hasPrefix("\(key)=\(value) is not one of: \(HookSetting(rawValue: key)!.allowedValues)"), "\(problem)")
        #expect(problem.description.hasSuffix("(set in portage's environment: make.conf or package.env)"))
    }

    @Test("an unknown key and a line that is not KEY=value are named by line")
    func malformedLines() throws {
        let (reading, file) = try read("KSQSH_COMPRESION=zstd\nzstd please\n")
        #expect(reading.problems.map(\.description) == [
            "\(file): line 2: 'zstd please' is not KEY=value",
            "\(file): line 1: KSQSH_COMPRESION is not a setting; the settings are \(HookSetting.allCases.map(\.rawValue).joined(separator: ", "))",
        ])
    }

    @Test("pre_src_install stops on a refused value, before anything; later phases keep the default and warn")
    func onlyTheSquashStops() throws {
        let directory = try TemporaryDirectory("settings-phase")
        defer { directory.remove() }
        let file = directory["ksqsh.conf"]
        try FS.writeFile(file, Array("KSQSH_PREPARE=always\n".utf8))
        let variables = ["KV_FULL": "6.12.10-gentoo", "ROOT": "/", "KSQSH_CONFIG": file.string]

        #expect(throws: KsqshError.self) { try PortageEnvironment.forPhase(.preSrcInstall, variables: variables) }
        let later = try PortageEnvironment.forPhase(.postPkgPostinst, variables: variables)
        #expect(!later.settings.prepareModules)
        #expect(later.settingWarnings == ["\(file): line 1: KSQSH_PREPARE=always is not one of: config, modules; the default stands"])
    }

    @Test("the file is EPREFIX/etc/ksqsh.conf, not under ROOT; KSQSH_CONFIG names another")
    func fileLocation() {
        #expect(HookSettings.file(eprefix: "", variables: ["ROOT": "/mnt/target"]) == "/etc/ksqsh.conf")
        #expect(HookSettings.file(eprefix: "/home/me/gentoo", variables: [:]) == "/home/me/gentoo/etc/ksqsh.conf")
        #expect(HookSettings.file(eprefix: "", variables: ["KSQSH_CONFIG": "/srv/ksqsh.conf"]) == "/srv/ksqsh.conf")
    }

    @Test("the squash in pre_src_install uses them: compression and block size from ksqsh.conf in the image written")
    func squashUsesThem() throws {
        let directory = try TemporaryDirectory("settings-squash")
        defer { directory.remove() }
        let version = "6.12.10-gentoo"
        let tree = directory[ByteString("work/linux-\(version)")]
        try FS.mkdirs(tree)
        try FS.writeFile(tree / "Makefile", Array(repeating: UInt8(ascii: "k"), count: 300_000))
        let settings = directory["ksqsh.conf"]
        try FS.writeFile(settings, Array("KSQSH_COMPRESSION=zstd\nKSQSH_BLOCK_SIZE=128K\n".utf8))

        let result = try Ksqsh.run(["hook", "pre_src_install"], environment: [
            "ROOT": directory.path.string, "KV_FULL": version, "WORKDIR": directory["work"].string, "KSQSH_CONFIG": settings.string,
        ])
        expectSuccess(result)
        let superBlock = try SuperBlock(file: directory[ByteString("work/linux-\(version).sqfs")])
        #expect(SuperBlock.compressionNames[superBlock.compressionID] == "zstd")
        #expect(superBlock.blockSize == 128 << 10)
    }
}
