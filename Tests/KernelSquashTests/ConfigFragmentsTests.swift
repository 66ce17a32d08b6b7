import Lifecycle
import SystemPackage
import SystemSupport
import Testing

/// EROOT/etc/kernel/config.d: which fragments are merged, in which order,
/// and which names are refused before anything changes.
@Suite("Config fragments: listing etc/kernel/config.d")
struct ConfigFragmentsTests {
    @Test("*.config only, hidden names left out, in byte order of their names (a later one overrides an earlier one)")
    func listsInByteOrder() throws {
        let directory = try TemporaryDirectory("config-d")
        defer { directory.remove() }
        for name: ByteString in ["20-net.config", "10-debug.config", "Z-upper.config", ".hidden.config", "notes.txt", "10-debug.config~"] {
            try FS.writeFile(directory[name], Array("CONFIG_X=y\n".utf8))
        }
        let listed = try ConfigFragments.list(in: FilePath(directory.path.string))
        #expect(listed.map { $0.lastComponent!.string } == ["10-debug.config", "20-net.config", "Z-upper.config"])
    }

    @Test("no config.d at all is no fragments")
    func missingDirectory() throws {
        #expect(try ConfigFragments.list(in: "/nonexistent/etc/kernel/config.d").isEmpty)
    }

    @Test("a name merge_config.sh would split or glob is refused (67), naming it and the fix", arguments: ["my net.config", "a*.config", "x$y.config"])
    func refusesUnsafeNames(_ name: String) throws {
        let directory = try TemporaryDirectory("config-d-unsafe")
        defer { directory.remove() }
        try FS.writeFile(directory[ByteString(name)], Array("CONFIG_X=y\n".utf8))
        let error = try #require(throws: KsqshError.self) { try ConfigFragments.list(in: FilePath(directory.path.string)) }
        #expect(error.exitStatus == 67)
        #expect(error.description.contains(name) && error.description.contains("rename it"), "\(error)")
    }

    @Test("a fragment that is no regular file is refused (12), naming it", arguments: ["directory", "dangling link"])
    func refusesNonFiles(_ kind: String) throws {
        let directory = try TemporaryDirectory("config-d-nonfile")
        defer { directory.remove() }
        if kind == "directory" {
            try FS.mkdir(directory["bad.config"])
        } else {
            try FS.symlink(target: directory["missing"], at: directory["bad.config"])
        }
        let error = try #require(throws: KsqshError.self) { try ConfigFragments.list(in: FilePath(directory.path.string)) }
        #expect(error.exitStatus == 12 && error.description.contains("bad.config"), "\(error)")
    }
}
