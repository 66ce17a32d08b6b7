import SystemPackage

/// Paths and values as one line of text for messages.
///
/// Linux names may hold newlines, other control characters and bytes that
/// are not UTF-8; printed raw, a newline would split ksqsh's one-line error
/// and a lone byte would turn into U+FFFD, naming no file. Both are written
/// as C-style escapes instead (`\n`, `\t`, `\xff`), as `ls -b` does.
extension FilePath {
    public var displayed: String {
        withPlatformString { pointer in
            var bytes: [UInt8] = []
            var cursor = pointer
            while cursor.pointee != 0 {
                bytes.append(UInt8(bitPattern: cursor.pointee))
                cursor += 1
            }
            return DisplayedText.escaping(bytes)
        }
    }
}

public enum DisplayedText {
    /// `text` with control characters escaped, so it stays on one line.
    public static func oneLine(_ text: String) -> String {
        escaping(Array(text.utf8))
    }

    /// Valid UTF-8 is kept; control characters and invalid bytes are escaped.
    package static func escaping(_ bytes: [UInt8]) -> String {
        var output = ""
        var index = 0
        while index < bytes.count {
            let length = validSequenceLength(bytes, at: index)
            if length == 0 {
                output += hexEscape(bytes[index])
                index += 1
                continue
            }
            let scalar = String(decoding: bytes[index..<index + length], as: UTF8.self)
            switch bytes[index] {
            case 0x0A: output += "\\n"
            case 0x09: output += "\\t"
            case 0x0D: output += "\\r"
            case 0x00..<0x20, 0x7F: output += hexEscape(bytes[index])
            default: output += scalar
            }
            index += length
        }
        return output
    }

    private static func hexEscape(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
    }

    /// The length of the well-formed UTF-8 sequence at `index`, or 0.
    private static func validSequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let length: Int
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0...0xEF: length = 3
        case 0xF0...0xF4: length = 4
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        let sequence = Array(bytes[index..<index + length])
        // Decoding without repair rejects overlong forms, surrogates and > U+10FFFF.
        return String(validating: sequence, as: UTF8.self) == nil ? 0 : length
    }
}
