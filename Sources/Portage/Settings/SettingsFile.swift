import SystemPackage
import SystemSupport

/// The lines of a settings file: `KEY=value`, as in make.conf but without
/// expansion — blank lines and `#` comments skipped, one pair of matching
/// quotes around the value removed. ksqsh reads it; no shell ever sources it.
struct SettingsFile {
    struct Entry: Equatable {
        let line: Int
        let key: String
        let value: String
    }

    let path: FilePath
    private(set) var entries: [Entry] = []
    /// Lines that are not `KEY=value`, as problems naming the line.
    private(set) var problems: [KsqshError] = []

    /// A missing file is an empty one: settings are optional.
    init(path: FilePath) {
        self.path = path
        let text: String
        do {
            text = try readSmallFile(path, limit: 1 << 20)
        } catch let error as KsqshError {
            if error.errno != .noSuchFileOrDirectory {
                problems.append(KsqshError(.settingInvalid, path: path, "cannot be read; fix its permissions or remove it", errno: error.errno))
            }
            return
        } catch {
            problems.append(KsqshError(.settingInvalid, path: path, "cannot be read: \(error)"))
            return
        }
        parse(text)
    }

    init(path: FilePath, text: String) {
        self.path = path
        parse(text)
    }

    private mutating func parse(_ text: String) {
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingWhitespace
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            guard let equals = line.firstIndex(of: "="),
                case let key = String(line[..<equals]).trimmingWhitespace,
                !key.isEmpty, key.allSatisfy({ $0 == "_" || ($0.isASCII && ($0.isUppercase || $0.isNumber)) })
            else {
                problems.append(KsqshError(.settingInvalid, path: path, "line \(index + 1): '\(DisplayedText.oneLine(String(line)))' is not KEY=value"))
                continue
            }
            entries.append(Entry(line: index + 1, key: key, value: SettingsFile.unquoted(String(line[line.index(after: equals)...]).trimmingWhitespace)))
        }
    }

    private static func unquoted(_ value: String) -> String {
        for quote in ["\"", "'"] where value.count >= 2 && value.hasPrefix(quote) && value.hasSuffix(quote) {
            return String(value.dropFirst().dropLast())
        }
        return value
    }
}
