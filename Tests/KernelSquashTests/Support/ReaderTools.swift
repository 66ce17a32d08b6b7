/// The independent squashfs readers installed on the machine: unsquashfs
/// (squashfs-tools), rdsquashfs and gensquashfs (squashfs-tools-ng).
enum Unsquashfs {
    /// `unsquashfs -d OUT IMAGE`: extracts everything with modes, times,
    /// ownership (as root) and hard links. OUT must not exist yet.
    static func extract(_ image: ByteString, to output: ByteString) throws {
        try Subprocess.runChecked("unsquashfs", ["-no-progress", "-d", output, image])
    }

    /// `unsquashfs -s IMAGE`, one string per line, trimmed.
    static func superBlockReport(_ image: ByteString) throws -> [String] {
        try Subprocess.runChecked("unsquashfs", ["-s", image]).stdoutText
            .split(separator: "\n").map { $0.trimmingCharacters(in: " \t") }
    }

    /// The lines of `report` that describe the compressor and block size.
    static func compressionLines(_ report: [String]) -> [String] {
        report.filter {
            $0.hasPrefix("Compression") || $0.hasPrefix("Block size") || $0.hasPrefix("Dictionary size")
                || $0.hasPrefix("Filters selected") || $0.hasPrefix("Compression level") || $0.hasPrefix("Window size")
        }
    }

    /// One line of `unsquashfs -lls`/`-lln`.
    struct ListingEntry: Sendable {
        let permissions: String
        let owner: String
        let group: String
        /// The path inside the image, without the "squashfs-root" prefix ("" for the root).
        let path: String
    }

    /// `unsquashfs -lls IMAGE` (names) or `-lln` (numbers). Entries whose
    /// names contain a newline cannot be parsed from this format and are
    /// left out.
    static func listing(_ image: ByteString, numeric: Bool) throws -> [ListingEntry] {
        let output = try Subprocess.runChecked("unsquashfs", [numeric ? "-lln" : "-lls", image]).stdoutText
        var entries: [ListingEntry] = []
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            guard fields.count == 3, fields[0].count == 10, "-dlcbps".contains(fields[0].first!),
                  let slash = fields[1].firstIndex(of: "/"),
                  let rootRange = line.firstRange(of: " squashfs-root") else { continue }
            var path = String(line[rootRange.upperBound...])
            if fields[0].first == "l", let arrow = path.firstRange(of: " -> ") { path = String(path[..<arrow.lowerBound]) }
            entries.append(ListingEntry(
                permissions: String(fields[0]), owner: String(fields[1][..<slash]),
                group: String(fields[1][fields[1].index(after: slash)...]), path: path
            ))
        }
        return entries
    }
}

enum Rdsquashfs {
    /// `rdsquashfs -u / -p OUT -C -O -T -q IMAGE`: unpack with permissions
    /// (-C), ownership (-O) and times (-T). rdsquashfs 1.2 does not recreate
    /// hard links (each link becomes its own file) and leaves OUT's own mode
    /// and mtime alone; `stat` reads those from the image instead.
    static func extract(_ image: ByteString, to output: ByteString) throws {
        try Subprocess.runChecked("rdsquashfs", ["-u", "/", "-p", output, "-C", "-O", "-T", "-q", image])
    }

    /// `rdsquashfs -s PATH IMAGE` as "Key: value" pairs.
    static func stat(_ image: ByteString, _ path: ByteString) throws -> [String: String] {
        let output = try Subprocess.runChecked("rdsquashfs", ["-s", path, image]).stdoutText
        var fields: [String: String] = [:]
        for line in output.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: " ")
        }
        return fields
    }
}

extension StringProtocol {
    /// Strips leading and trailing characters found in `set`.
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice = slice.dropFirst() }
        while let last = slice.last, set.contains(last) { slice = slice.dropLast() }
        return String(slice)
    }
}
