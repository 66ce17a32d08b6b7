/// The calls of an `strace -f -y -qq -o FILE` run that succeeded, in order,
/// with their arguments decoded: the record the crash-order and crash-state
/// checks read. `-y` annotates each descriptor with its path
/// (`3</usr/src/build-KV>`), so a call relative to a directory descriptor
/// resolves to an absolute path; `-xx` (hex strings) is read as well as
/// strace's default escapes.
struct SyscallTrace {
    /// One argument, or the result, of a call.
    enum Argument: Equatable {
        /// A descriptor with the path `-y` annotated it with (AT_FDCWD's is
        /// the working directory; an O_TMPFILE file's is "DIR/#INODE").
        case descriptor(number: Int32?, path: String)
        case string([UInt8])
        /// Anything else, as strace printed it (flags, numbers, structures).
        case other(String)

        var text: String? { if case .other(let text) = self { text } else { nil } }
        var bytes: [UInt8]? { if case .string(let bytes) = self { bytes } else { nil } }
        var descriptorPath: String? { if case .descriptor(_, let path) = self { path } else { nil } }
        var descriptorNumber: Int32? { if case .descriptor(let number, _) = self { number } else { nil } }
    }

    struct Call: CustomStringConvertible {
        /// The call's place in the trace: where it began, except for a sync,
        /// which counts where it returned (only then is anything durable).
        let index: Int
        let name: String
        let arguments: [Argument]
        let result: Argument
        /// The paths named, absolute: `"path"` arguments joined to the
        /// descriptor before them (else to the process's working directory),
        /// and annotated descriptors that stand alone (what fsync syncs).
        let paths: [String]
        /// False when a relative path came before the process's working
        /// directory was known: `paths` then lacks it.
        let resolved: Bool
        /// As strace wrote it (strings in hex under -xx).
        let line: String
        /// Readable: the call with the paths it names.
        var description: String { "\(name)(\(paths.joined(separator: ", ")))" }

        /// The first flag-like argument's flags (`O_WRONLY|O_CREAT`).
        var flags: Set<Substring> {
            for argument in arguments {
                if let text = argument.text, text.hasPrefix("O_") || text.hasPrefix("RENAME_") || text.hasPrefix("AT_") {
                    return Set(text.split(separator: "|"))
                }
            }
            return []
        }

        /// The descriptor a call acts on: its first argument's annotation.
        var descriptor: Argument? { arguments.first.flatMap { if case .descriptor = $0 { $0 } else { nil } } }
    }

    let calls: [Call]

    init(_ bytes: [UInt8]) {
        struct Parsed { let position: Int; let pid: Int; let name: String; let text: Substring; let line: String }
        var parsed: [Parsed] = []
        var unfinished: [Int: (position: Int, name: String, head: Substring)] = [:]
        let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
        for (position, line) in lines.enumerated() {
            guard let space = line.firstIndex(of: " "), let pid = Int(line[..<space]) else { continue }
            // strace pads short pids: "123  name(".
            let rest = line[line.index(after: space)...].drop(while: { $0 == " " })
            if rest.hasPrefix("<... ") {
                // "<... name resumed>REST": the call began on an "<unfinished ...>" line of the same pid.
                guard let start = unfinished.removeValue(forKey: pid), let close = rest.firstIndex(of: ">") else { continue }
                let whole = start.head + rest[rest.index(after: close)...]
                let position = SyscallTrace.syncs.contains(start.name) ? position : start.position
                parsed.append(Parsed(position: position, pid: pid, name: start.name, text: whole, line: "\(pid) \(start.name)(\(whole)"))
                continue
            }
            guard let open = rest.firstIndex(of: "(") else { continue }
            let name = String(rest[..<open])
            let arguments = rest[rest.index(after: open)...]
            if arguments.hasSuffix(" <unfinished ...>") {
                unfinished[pid] = (position, name, arguments.dropLast(" <unfinished ...>".count))
            } else {
                parsed.append(Parsed(position: position, pid: pid, name: name, text: arguments, line: String(line)))
            }
        }
        parsed.sort { $0.position < $1.position }

        var calls: [Call] = []
        var workingDirectories: [Int: String] = [:]
        for entry in parsed {
            // "ARGUMENTS) = RESULT", the "=" padded to a column; failed calls change nothing.
            guard let (arguments, result) = SyscallTrace.argumentsAndResult(entry.text) else { continue }
            if case .other(let text) = result, text.hasPrefix("-1") || text.hasPrefix("?") { continue }
            for case .descriptor(nil, let path) in arguments { workingDirectories[entry.pid] = path }
            let (paths, resolved) = SyscallTrace.paths(in: arguments, workingDirectory: workingDirectories[entry.pid])
            // A child starts where its parent is; chdir and fchdir move it.
            switch entry.name {
            case "clone", "clone3", "fork", "vfork":
                if let child = result.text.flatMap({ Int($0) }) { workingDirectories[child] = workingDirectories[entry.pid] }
            case "chdir", "fchdir":
                if let path = paths.first { workingDirectories[entry.pid] = path }
            default: break
            }
            calls.append(Call(index: calls.count, name: entry.name, arguments: arguments, result: result, paths: paths, resolved: resolved, line: entry.line))
        }
        self.calls = calls
    }

    /// Splits "ARGUMENTS)   = RESULT" at the last " = " that follows the
    /// closing parenthesis (strace pads short calls so "=" lines up).
    private static func argumentsAndResult(_ text: Substring) -> ([Argument], Argument)? {
        var searchEnd = text.endIndex
        while let equals = text[..<searchEnd].range(of: " = ", options: .backwards) {
            let head = text[..<equals.lowerBound]
            let trimmed = head[..<(head.lastIndex(where: { $0 != " " }).map(head.index(after:)) ?? head.startIndex)]
            if trimmed.last == ")" {
                return (split(trimmed.dropLast()).map(argument), argument(text[equals.upperBound...]))
            }
            searchEnd = equals.lowerBound
        }
        return nil
    }

    /// A descriptor followed by a string names path/string; a lone
    /// descriptor names its path; a relative string alone is relative to
    /// the working directory.
    private static func paths(in arguments: [Argument], workingDirectory: String?) -> (paths: [String], resolved: Bool) {
        var paths: [String] = []
        var resolved = true
        var pendingDirectory: String?
        for argument in arguments {
            switch argument {
            case .descriptor(_, let path):
                if let directory = pendingDirectory { paths.append(directory) }
                pendingDirectory = path
            case .string(let bytes):
                let text = String(decoding: bytes, as: UTF8.self)
                if text.hasPrefix("/") {
                    paths.append(text)
                } else if let directory = pendingDirectory ?? workingDirectory {
                    paths.append(text.isEmpty ? directory : directory + "/" + text)
                } else {
                    resolved = false
                }
                pendingDirectory = nil
            case .other:
                continue
            }
        }
        if let directory = pendingDirectory { paths.append(directory) }
        return (paths.map(normalized), resolved)
    }

    /// Drops "." components and a trailing "/" (`mkdir -p` passes "dir/").
    private static func normalized(_ path: String) -> String {
        let parts = path.split(separator: "/").filter { $0 != "." }
        return "/" + parts.joined(separator: "/")
    }

    /// Splits an argument list at the commas outside strings and brackets.
    private static func split(_ text: Substring) -> [Substring] {
        var pieces: [Substring] = []
        var depth = 0
        var inString = false
        var escaped = false
        var start = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if inString {
                if escaped { escaped = false } else if character == "\\" { escaped = true } else if character == "\"" { inString = false }
            } else {
                switch character {
                case "\"": inString = true
                case "[", "{", "<": depth += 1
                case "]", "}", ">": depth -= 1
                case "," where depth == 0:
                    pieces.append(text[start..<index])
                    start = text.index(after: index)
                default: break
                }
            }
            index = text.index(after: index)
        }
        if start < text.endIndex { pieces.append(text[start...]) }
        return pieces.map { $0.drop(while: { $0 == " " }) }
    }

    private static func argument(_ raw: Substring) -> Argument {
        let text = raw.drop(while: { $0 == " " })
        if text.first == "\"" { return .string(decodeString(text.dropFirst())) }
        if let open = text.firstIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close {
            let head = text[..<open]
            if head == "AT_FDCWD" || Int32(head) != nil {
                let path = String(decoding: decodeString(text[text.index(after: open)..<close]), as: UTF8.self)
                return .descriptor(number: Int32(head), path: path)
            }
        }
        return .other(String(text))
    }

    /// The bytes of a quoted string (after its opening quote), with
    /// strace's escapes: \xNN, octal, \n \t \r \v \f \" \\.
    private static func decodeString(_ text: Substring) -> [UInt8] {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        func hexValue(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while let byte = utf8.popFirst() {
            if byte == UInt8(ascii: "\"") { break }
            guard byte == UInt8(ascii: "\\"), let next = utf8.popFirst() else {
                bytes.append(byte)
                continue
            }
            switch next {
            case UInt8(ascii: "x"):
                let high = utf8.popFirst().flatMap(hexValue) ?? 0
                let low = utf8.popFirst().flatMap(hexValue) ?? 0
                bytes.append(high << 4 | low)
            case UInt8(ascii: "0")...UInt8(ascii: "7"):
                var value = Int(next - UInt8(ascii: "0"))
                for _ in 0..<2 {
                    guard let digit = utf8.first, (UInt8(ascii: "0")...UInt8(ascii: "7")).contains(digit) else { break }
                    value = value * 8 + Int(digit - UInt8(ascii: "0"))
                    utf8.removeFirst()
                }
                bytes.append(UInt8(truncatingIfNeeded: value))
            case UInt8(ascii: "n"): bytes.append(10)
            case UInt8(ascii: "t"): bytes.append(9)
            case UInt8(ascii: "r"): bytes.append(13)
            case UInt8(ascii: "v"): bytes.append(11)
            case UInt8(ascii: "f"): bytes.append(12)
            default: bytes.append(next)
            }
        }
        return bytes
    }

    static let syncs: Set<String> = ["fsync", "fdatasync"]
    /// Calls that make every file durable, not just one.
    static let globalSyncs: Set<String> = ["sync", "syncfs"]
    static let directoryCreations: Set<String> = ["mkdir", "mkdirat"]
    static let renames: Set<String> = ["rename", "renameat", "renameat2"]
    static let links: Set<String> = ["link", "linkat"]
    /// A symlink's "content" is its target text, written with its name.
    static let symlinks: Set<String> = ["symlink", "symlinkat"]
    static let removals: Set<String> = ["unlink", "unlinkat", "rmdir"]
    static let opens: Set<String> = ["open", "openat", "creat"]
    static let writes: Set<String> = ["write", "pwrite64"]
    /// Calls that change a file's bytes in ways the trace does not carry.
    static let opaqueChanges: Set<String> = ["writev", "pwritev", "pwritev2", "ftruncate", "truncate", "fallocate", "copy_file_range", "sendfile", "splice"]

    /// Calls that say where a process is (paths relative to it) and what it touched last.
    static let processes: Set<String> = ["lseek", "clone", "clone3", "fork", "vfork", "chdir", "fchdir"]

    /// Every call the crash-state model reads.
    static var crashModelCalls: [String] {
        [syncs, globalSyncs, directoryCreations, renames, links, symlinks, removals, opens, writes, opaqueChanges, processes]
            .flatMap { $0 }.sorted()
    }
}
