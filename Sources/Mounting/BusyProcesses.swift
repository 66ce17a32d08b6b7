import Glibc
import SystemPackage
import SystemSupport

/// A process that keeps a mount busy, found the way fuser -m does: its
/// working directory, root, executable, open files or mapped files lie
/// under the mount point.
public struct BusyProcess: Sendable, CustomStringConvertible {
    public let pid: Int32
    public let command: String
    public var description: String { "\(command) (pid \(pid))" }
}

public enum BusyProcesses {
    /// The processes using `mountPoint` (or any directory), but this one
    /// and, with `ignoringAncestors`, those waiting for it to finish: the
    /// make and shells that ran it from inside.
    public static func holding(_ mountPoint: FilePath, ignoringAncestors: Bool = false) -> [BusyProcess] {
        let base = canonicalPath(mountPoint).string
        let ignored = ignoringAncestors ? ancestors() : [getpid()]
        var found: [BusyProcess] = []
        for name in directoryNames("/proc") {
            guard let pid = Int32(name), !ignored.contains(pid) else { continue }
            if uses(pid: pid, below: base) {
                let command = (try? readSmallFile(FilePath("/proc/\(pid)/comm")))?.trimmingNewline ?? "?"
                found.append(BusyProcess(pid: pid, command: command))
            }
        }
        return found.sorted { $0.pid < $1.pid }
    }

    /// This process and its parent, grandparent, … up to init.
    static func ancestors() -> Set<Int32> {
        var chain: Set<Int32> = []
        var pid = getpid()
        while pid > 1, chain.insert(pid).inserted {
            // /proc/PID/stat: "PID (COMM) STATE PPID …"; COMM may hold spaces
            // and parentheses, so the fields are read after the last ')'.
            guard let stat = try? readSmallFile(FilePath("/proc/\(pid)/stat"), limit: 4096),
                let close = stat.lastIndex(of: ")"),
                let parent = stat[stat.index(after: close)...].split(separator: " ").dropFirst().first.flatMap({ Int32($0) })
            else { break }
            pid = parent
        }
        return chain
    }

    private static func uses(pid: Int32, below base: String) -> Bool {
        func isBelow(_ path: String?) -> Bool {
            guard let path else { return false }
            return path == base || path.hasPrefix(base + "/")
        }
        for link in ["cwd", "root", "exe"] where isBelow(FilePath("/proc/\(pid)/\(link)").symbolicLinkTarget) {
            return true
        }
        for fd in directoryNames(FilePath("/proc/\(pid)/fd")) where isBelow(FilePath("/proc/\(pid)/fd/\(fd)").symbolicLinkTarget) {
            return true
        }
        if let maps = try? readSmallFile(FilePath("/proc/\(pid)/maps"), limit: 4 << 20) {
            for line in maps.split(separator: "\n") {
                if let slash = line.firstIndex(of: "/"), isBelow(String(line[slash...])) { return true }
            }
        }
        return false
    }
}

extension String {
    package var trimmingNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
