import Glibc
import ImageEngine
import SystemPackage
import Testing

/// `ksqsh squash --delete-source` into a directory whose name is not UTF-8:
/// the deletion marker beside the image is written, read back and removed by
/// the same bytes the kernel knows the directory by. A path that went to the
/// kernel through `String` would have its 0xff 0xfe repaired to U+FFFD and
/// name a directory that does not exist: the marker would be left behind
/// after a successful run, and an interrupted deletion could not be resumed.
@Suite("The deletion marker in an image directory whose name is not UTF-8", .serialized, .hangGuard)
struct NonUTF8ImageDirectoryTests {
    /// "images/\xff\xfe-dir": not UTF-8, and not repairable back into itself.
    static let directoryName = ByteString([0xFF, 0xFE] + Array("-dir".utf8))

    /// A workspace with the small fixture at `src/`, its `cp -a` copy at
    /// `copy/`, and the image's directory named by `directoryName`.
    struct Setup {
        let work: Workspace
        let copy: ByteString
        let directory: ByteString
        var image: ByteString { directory / "linux.sqfs" }
        var marker: ByteString { directory / ".linux.sqfs.delete-source" }
        var source: ByteString { work.source }

        init(_ label: String) throws {
            work = try Workspace(label)
            try work.buildFixture(large: false)
            copy = work["copy"]
            _ = try DeleteSourceTests.copyTree(work.source, to: copy)
            directory = work.imageDirectory / NonUTF8ImageDirectoryTests.directoryName
            try FS.mkdir(directory)
        }

        /// The same bytes as a FilePath, for calling the library directly.
        func filePath(_ path: ByteString) -> FilePath {
            (path.bytes.map { CChar(bitPattern: $0) } + [0]).withUnsafeBufferPointer { FilePath(platformString: $0.baseAddress!) }
        }

        /// What a `--delete-source` killed right after the image got its name
        /// leaves: the marker, naming this source tree and this image.
        func writeMarker(imageIdentity: String? = nil, imageBytes: Int? = nil) throws {
            let tree = try FS.lstat(source)
            let image = try? FS.lstat(image)
            let identity = imageIdentity ?? "\(image!.st_dev):\(image!.st_ino)"
            let bytes = imageBytes ?? Int(image!.st_size)
            let text = "ksqsh delete-source 1\nsource-identity \(tree.st_dev):\(tree.st_ino)\nimage-identity \(identity)\nimage-bytes \(bytes)\nkeep-owner 0\nsource \(source.string)\n"
            try FS.writeFile(marker, Array(text.utf8))
        }
    }

    @Test("squash --delete-source writes the marker beside the image and removes it once the tree is empty")
    func deleteSourceRemovesMarker() throws {
        let setup = try Setup("marker-non-utf8")
        defer { setup.work.remove() }
        let result = try Ksqsh.squash(setup.source, setup.image, ["--verify", "--delete-source"])
        expectSuccess(result)
        #expect(try FS.list(setup.source).isEmpty, "SRC must be emptied")
        #expect(try FS.list(setup.directory) == [setup.image.lastComponent], "only the image is left: the marker is removed")
        expectSuccess(try Ksqsh.verify(setup.image, against: setup.copy))
    }

    @Test("a marker left by an interrupted deletion is read back there, and the same command finishes the deletion and removes it")
    func resumesFromMarker() throws {
        let setup = try Setup("resume-non-utf8")
        defer { setup.work.remove() }
        // Killed after the image got its name, before anything was deleted.
        try Ksqsh.squashChecked(setup.source, setup.image, ["--verify"])
        let imageBytes = try FS.readFile(setup.image)
        try setup.writeMarker()
        #expect(try DeletionMarker.read(beside: setup.filePath(setup.image)) != nil, "the library reads the marker back")

        let result = try Ksqsh.squash(setup.source, setup.image, ["--verify", "--delete-source"])
        expectSuccess(result)
        #expect(try FS.list(setup.source).isEmpty, "the deletion is finished")
        #expect(try FS.list(setup.directory) == [setup.image.lastComponent], "the marker is removed")
        #expect(try FS.readFile(setup.image) == imageBytes, "the verified image is kept, not made again")
        #expect(try DeletionMarker.read(beside: setup.filePath(setup.image)) == nil)
    }

    @Test("a marker whose image never got its name is read, removed, and the squash runs as usual")
    func staleMarker() throws {
        let setup = try Setup("stale-non-utf8")
        defer { setup.work.remove() }
        let tree = try FS.lstat(setup.source)
        try setup.writeMarker(imageIdentity: "\(tree.st_dev):999999999", imageBytes: 4096)

        let result = try Ksqsh.squash(setup.source, setup.image, ["--verify", "--delete-source"])
        expectSuccess(result)
        #expect(try FS.list(setup.source).isEmpty)
        #expect(try FS.list(setup.directory) == [setup.image.lastComponent], "the stale marker is gone, and so is the new one")
        expectSuccess(try Ksqsh.verify(setup.image, against: setup.copy))
    }
}
