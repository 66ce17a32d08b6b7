/// A JSON document to print, for `status --json`: objects print with sorted
/// keys and two-space indentation, and slashes unescaped, so paths read as
/// they are. (ksqsh links no Foundation, so no JSONEncoder.)
public indirect enum JSONValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case bool(Bool)
    case array([JSONValue])
    /// Absent values are left out of their object, not written as null.
    case object([String: JSONValue?])

    public var text: String {
        var output = ""
        write(to: &output, indent: "")
        return output
    }

    private func write(to output: inout String, indent: String) {
        let inner = indent + "  "
        switch self {
        case .string(let text): output += JSONValue.quoted(text)
        case .integer(let number): output += String(number)
        case .bool(let flag): output += flag ? "true" : "false"
        case .array(let items) where items.isEmpty: output += "[]"
        case .array(let items):
            output += "[\n"
            for (index, item) in items.enumerated() {
                output += inner
                item.write(to: &output, indent: inner)
                output += index == items.count - 1 ? "\n" : ",\n"
            }
            output += indent + "]"
        case .object(let members):
            let present = members.compactMap { key, value in value.map { (key, $0) } }.sorted { $0.0 < $1.0 }
            guard !present.isEmpty else { return output += "{}" }
            output += "{\n"
            for (index, (key, value)) in present.enumerated() {
                output += inner + JSONValue.quoted(key) + " : "
                value.write(to: &output, indent: inner)
                output += index == present.count - 1 ? "\n" : ",\n"
            }
            output += indent + "}"
        }
    }

    /// RFC 8259 string quoting: quotes, backslashes and control characters escaped.
    private static func quoted(_ text: String) -> String {
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": quoted += "\\\""
            case "\\": quoted += "\\\\"
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case let control where control.value < 0x20:
                quoted += "\\u" + String(cFormat: "%04x", control.value)
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }
}
