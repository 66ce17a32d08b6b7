import Glibc

extension String {
    /// Text formatted the way C's printf does it ("%.1f", "%04d"): the few
    /// numbers ksqsh prints, without Foundation's `String(format:)`.
    /// The corresponding C function is `vsnprintf`.
    public init(cFormat format: String, _ arguments: CVarArg...) {
        self = String.formatted(format, arguments)
    }

    private static func formatted(_ format: String, _ arguments: [CVarArg]) -> String {
        var capacity = 64
        while true {
            var buffer = [CChar](repeating: 0, count: capacity)
            let length = Int(withVaList(arguments) { vsnprintf(&buffer, capacity, format, $0) })
            if length < capacity {
                return String(decoding: buffer.prefix(Swift.max(0, length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            capacity = length + 1
        }
    }
}
