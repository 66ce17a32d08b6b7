import SystemSupport

/// The portage package that installed a kernel version, by the names the
/// ebuild variables give it: PN (`gentoo-sources`), PV (`6.12.10`), PR
/// (`r1`), and from them PVR (`6.12.10-r1`), P (`gentoo-sources-6.12.10`)
/// and PF (`gentoo-sources-6.12.10-r1`, the name of its directory in
/// var/db/pkg).
///
/// The config chain names files after it (etc/portage/savedconfig/
/// sys-kernel/PF), so only names the package manager specification allows
/// are accepted: none can hold a '/' or start with '-' or '.'.
public struct KernelPackage: Sendable, Equatable, CustomStringConvertible {
    /// PN.
    public let name: String
    /// PV: the version without the revision.
    public let version: String
    /// The revision's number (PR without its "r"); nil for none, as for -r0.
    public let revision: String?

    /// From PN and PVR, as a hook gets them from portage.
    public init?(name: String, versionAndRevision: String) {
        guard Self.isPackageName(name), let (version, revision) = Self.splitRevision(versionAndRevision), Self.isVersion(version) else { return nil }
        self.name = name
        self.version = version
        self.revision = revision
    }

    /// From PF (`gentoo-sources-6.12.10-r1`), as var/db/pkg names it. The
    /// name ends at the first '-' that a version follows; a name may not
    /// itself end in '-' and a version, so the split is never ambiguous
    /// (portage refuses `foo-1-2.3` as well).
    public init?(fullName: String) {
        var search = fullName.startIndex
        while let dash = fullName[search...].firstIndex(of: "-") {
            let rest = fullName[fullName.index(after: dash)...]
            if let package = KernelPackage(name: String(fullName[..<dash]), versionAndRevision: String(rest)) {
                self = package
                return
            }
            search = fullName.index(after: dash)
        }
        return nil
    }

    /// PVR: `6.12.10-r1`, or `6.12.10` without a revision.
    public var versionAndRevision: String { revision.map { "\(version)-r\($0)" } ?? version }
    /// P: `gentoo-sources-6.12.10`.
    public var nameAndVersion: String { "\(name)-\(version)" }
    /// PF: `gentoo-sources-6.12.10-r1`.
    public var fullName: String { "\(name)-\(versionAndRevision)" }

    public var description: String { "sys-kernel/\(fullName)" }

    /// `-rN` at the end is the revision; `-r0` is no revision.
    private static func splitRevision(_ text: String) -> (String, String?)? {
        guard let dash = text.lastIndex(of: "-") else { return (text, nil) }
        let tail = text[text.index(after: dash)...]
        guard tail.first == "r", tail.count > 1, tail.dropFirst().allSatisfy(\.isASCIIDigitCharacter) else { return nil }
        let number = tail.dropFirst().drop { $0 == "0" }
        return (String(text[..<dash]), number.isEmpty ? nil : String(tail.dropFirst()))
    }

    /// PMS 3.1.2: letters, digits, '+', '_', '-'; not starting with '-' or
    /// '+'; not ending in '-' and a version.
    private static func isPackageName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first.isASCIIDigit || first.isASCIILetter || first == "_" else { return false }
        if let dash = text.lastIndex(of: "-"), isVersion(String(text[text.index(after: dash)...])) { return false }
        return text.count <= 128 && text.unicodeScalars.allSatisfy { $0.isASCIIDigit || $0.isASCIILetter || "+_-".unicodeScalars.contains($0) }
    }

    /// PMS 3.2: `1.2.3`, then an optional letter, then suffixes such as
    /// `_rc1` or `_p20240101`.
    private static func isVersion(_ text: String) -> Bool {
        var parts = text.split(separator: "_", omittingEmptySubsequences: false)[...]
        guard var numbers = parts.popFirst(), !numbers.isEmpty, text.count <= 128 else { return false }
        if let last = numbers.last, last.isASCIILowercaseLetter { numbers = numbers.dropLast() }
        let components = numbers.split(separator: ".", omittingEmptySubsequences: false)
        guard components.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigitCharacter) }) else { return false }
        let suffixes = ["alpha", "beta", "pre", "rc", "p"]
        return parts.allSatisfy { suffix in
            guard let word = suffixes.first(where: { suffix.hasPrefix($0) }) else { return false }
            return suffix.dropFirst(word.count).allSatisfy(\.isASCIIDigitCharacter)
        }
    }
}

extension Character {
    fileprivate var isASCIIDigitCharacter: Bool { ("0"..."9").contains(self) }
    fileprivate var isASCIILowercaseLetter: Bool { ("a"..."z").contains(self) }
}
