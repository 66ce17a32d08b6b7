import Foundation
import Glibc

/// The bench's own directory for images and logs: a fresh `run.XXXXXX`
/// inside --out. Only that directory is deleted at the end, never anything
/// else a user may keep in --out; --out itself goes only if the bench
/// created it and it is empty again.
struct Scratch {
    let path: String
    private let out: String
    private let createdOut: Bool

    init(out: String) throws {
        let files = FileManager.default
        createdOut = !files.fileExists(atPath: out)
        do {
            try files.createDirectory(atPath: out, withIntermediateDirectories: true)
        } catch {
            throw BenchError("cannot create --out \(out): \(error.localizedDescription)")
        }
        var template = Array("\(out)/run.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            throw BenchError("cannot create a scratch directory in \(out): \(String(cString: strerror(errno)))")
        }
        path = String(cString: made)
        self.out = out
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: path)
        if createdOut { rmdir(out) }
    }
}
