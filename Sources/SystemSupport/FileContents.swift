import SystemPackage

/// Reads a whole file (configs, sysfs, procfs), up to `limit` bytes.
package func readFileBytes(_ path: FilePath, limit: Int = .max) throws -> [UInt8] {
    do {
        let descriptor = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        defer { try? descriptor.close() }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while bytes.count < limit {
            let count = try chunk.withUnsafeMutableBytes { try descriptor.read(into: $0) }
            if count == 0 { break }
            bytes += chunk[0..<count]
        }
        return bytes
    } catch let errno as Errno {
        throw KsqshError(.sourceUnreadable, path: path, "cannot read", errno: errno)
    }
}

/// The same as text, for small files (sysfs, procfs, portage's database).
package func readSmallFile(_ path: FilePath, limit: Int = 1 << 20) throws -> String {
    String(decoding: try readFileBytes(path, limit: limit), as: UTF8.self)
}

/// A hidden name beside `target` for a file that is renamed over it once
/// complete: `.NAME.ksqsh-RANDOM`, in the same directory so the rename is atomic.
package func hiddenTemporaryName(for target: FilePath) -> FilePath {
    let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 16)
    return target.removingLastComponent().appending(hiddenTemporaryPrefix(for: target) + suffix)
}

/// What every name `hiddenTemporaryName` gives `target` starts with.
package func hiddenTemporaryPrefix(for target: FilePath) -> String {
    ".\(target.lastComponent?.string ?? "file").ksqsh-"
}
