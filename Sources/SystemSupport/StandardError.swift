import Glibc

public func writeToStandardErrorLine(_ text: String) { writeToStandardError(text + "\n") }

/// Writes straight to descriptor 2 (stdio's `stderr` is shared mutable state to Swift 6).
package func writeToStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = write(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}
