import Glibc
import SystemPackage

/// The environment ksqsh was started with. The corresponding C function is
/// `getenv`, and the C variable `environ`.
public enum ProcessEnvironment {
    /// This program's own path (/proc/self/exe).
    public static var executablePath: String? { FilePath("/proc/self/exe").symbolicLinkTarget }

    public static func value(of name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Every variable; where a name repeats, the first one counts, as for `getenv`.
    public static var all: [String: String] {
        var variables: [String: String] = [:]
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "="), variables[String(text[..<equals])] == nil {
                variables[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        return variables
    }
}
