/// A JSON document to print, for `status --json`: objects print with sorted
/// keys and two-space indentation, and slashes unescaped, so paths read as
/// they are. (ksqsh links no Foundation, so no JSONEncoder.)
public indirect enum JSONValue: Equatable, Sendable {
    case string(String)
    case integer(Int64)
    case bool(Bool)
    case array([JSONValue])
    /// Absent values are written as null: a reader finds every key.
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
            let sorted = members.sorted { $0.key < $1.key }
            guard !sorted.isEmpty else { return output += "{}" }
            output += "{\n"
            for (index, (key, value)) in sorted.enumerated() {
                output += inner + JSONValue.quoted(key) + " : "
                if let value { value.write(to: &output, indent: inner) } else { output += "null" }
                output += index == sorted.count - 1 ? "\n" : ",\n"
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
