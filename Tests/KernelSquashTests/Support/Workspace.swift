import Testing

/// One test's scratch space: a temporary directory with the source tree at
/// `src/` and the image's directory at `images/`. Call `remove()` in a defer.
struct Workspace: Sendable {
    let temporary: TemporaryDirectory

    init(_ label: String) throws {
        temporary = try TemporaryDirectory(label)
        try FS.mkdir(imageDirectory)
    }

    var path: ByteString { temporary.path }
    var source: ByteString { temporary["src"] }
    var imageDirectory: ByteString { temporary["images"] }
    var image: ByteString { imageDirectory / "linux.sqfs" }
    subscript(_ name: ByteString) -> ByteString { temporary[name] }

    func remove() { temporary.remove() }

    /// Builds the fixture at `src/`.
    @discardableResult
    func buildFixture(large: Bool = true) throws -> FixtureTree {
        try FixtureTree.build(at: source, large: large)
    }
}

/// Expects the contract's clean failure: the exit status, exactly one line on
/// stderr naming `path`, no IMAGE, nothing new (no temp file) in IMAGE's
/// directory, and SRC exactly as before.
func expectCleanFailure(
    _ result: ProcessResult, exit expected: Int32, naming path: ByteString,
    image: ByteString, imageDirectoryBefore: [ByteString]?,
    source: ByteString?, sourceBefore: Manifest?,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(result.exitCode == expected, "expected exit status \(expected): \(result)", sourceLocation: sourceLocation)
    #expect(result.stderrLines.count == 1, "stderr must be exactly one line: \(result)", sourceLocation: sourceLocation)
    #expect(
        result.stderr.firstIndex(of: path.bytes) != nil,
        "stderr must name \(path): \(result)", sourceLocation: sourceLocation
    )
    #expect(!FS.exists(image), "no IMAGE may be left at \(image) after a failure", sourceLocation: sourceLocation)
    if let imageDirectoryBefore, FS.isDirectory(image.parent) {
        let after = (try? FS.list(image.parent)) ?? []
        #expect(
            after == imageDirectoryBefore,
            "IMAGE's directory must hold what it held before (no temp files): before \(imageDirectoryBefore), after \(after)",
            sourceLocation: sourceLocation
        )
    }
    if let source, let sourceBefore {
        expectUnchanged(source, before: sourceBefore, sourceLocation: sourceLocation)
    }
}

/// Expects the tree at `path` to match its earlier manifest exactly.
func expectUnchanged(_ path: ByteString, before: Manifest, sourceLocation: SourceLocation = #_sourceLocation) {
    do {
        let after = try Manifest.scan(path)
        let differences = Manifest.differences(actual: after, expected: before, .exact)
        #expect(differences.isEmpty, "SRC must be untouched, but:\n\(differences.joined(separator: "\n"))", sourceLocation: sourceLocation)
    } catch {
        Issue.record("SRC \(path) can no longer be scanned: \(error)", sourceLocation: sourceLocation)
    }
}

/// Expects a tree read back from an image to equal the source's manifest.
func expectTreesMatch(
    _ actual: Manifest, _ expected: Manifest, _ options: Manifest.Comparison, reader: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let differences = Manifest.differences(actual: actual, expected: expected, options)
    #expect(
        differences.isEmpty,
        "\(reader) reads back a different tree (\(differences.count) differences):\n\(differences.joined(separator: "\n"))",
        sourceLocation: sourceLocation
    )
}

/// Expects `ksqsh` to have succeeded.
func expectSuccess(_ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(result.succeeded, "\(result)", sourceLocation: sourceLocation)
}

/// Expects a failure report as `verify` and `--delete-source` print it: a
/// first line naming `subject` and the cause, then (optionally) one indented
/// line per item, one of which names `item`.
///
/// The contract asks for "one line on stderr naming the path and cause"; a
/// report keeps that line first and adds the details below it, indented.
func expectReport(
    _ result: ProcessResult, headlineNaming subject: ByteString, listing item: ByteString? = nil,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    let lines = result.stderrLines
    guard let headline = lines.first else {
        Issue.record("stderr is empty: \(result)", sourceLocation: sourceLocation)
        return
    }
    #expect(headline.contains(subject.string), "the first stderr line should name \(subject): \(result)", sourceLocation: sourceLocation)
    let details = lines.dropFirst()
    #expect(
        details.allSatisfy { $0.first == " " || $0.first == "\t" },
        "lines after the first should be indented details: \(result)", sourceLocation: sourceLocation
    )
    if let item {
        #expect(lines.contains { $0.contains(item.string) }, "stderr should name \(item): \(result)", sourceLocation: sourceLocation)
    }
}
