import Foundation

/// The images `--cold-only` reads from, kept in one directory between runs so
/// the 2½-minute squashes happen once. An image is built again when it is
/// missing, was made from another tree, or (for ksqsh's) is older than the
/// ksqsh binary, whose layout rules may have changed.
struct ColdImages {
    let directory: String
    let source: String

    /// Paths of the ksqsh and mksquashfs images, building what is missing or stale.
    func provide(tools: Toolset, jobs: Int, scratch: Scratch) throws -> (ksqsh: String, mksquashfs: String) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let contenders = Contender.lineUp(source: source, scratch: directory, tools: tools, jobs: jobs)
        var paths: [Contender.Role: String] = [:]
        for contender in contenders where contender.role == .ksqsh || contender.role == .baseline {
            guard let executable = contender.executable else {
                throw BenchError("\(contender.program) is needed to build \(contender.image) for the cold reads")
            }
            if let reason = staleness(of: contender) {
                print("\(contender.label): building \(contender.image) (\(reason)): \(contender.commandLine)")
                Console.flush()
                guard let made = try Bench.measureOnce(contender, executable: executable, scratch: scratch, keepImage: true) else {
                    throw BenchError("cannot build \(contender.image) for the cold reads (see the error above)")
                }
                try source.write(toFile: stamp(contender), atomically: true, encoding: .utf8)
                print("  " + Bench.summary(made))
            } else {
                print("\(contender.label): reusing \(contender.image)")
            }
            paths[contender.role] = contender.image
        }
        return (paths[.ksqsh]!, paths[.baseline]!)
    }

    /// Why the image must be built, or nil when it can be reused.
    private func staleness(of contender: Contender) -> String? {
        let files = FileManager.default
        guard let imageDate = (try? files.attributesOfItem(atPath: contender.image))?[.modificationDate] as? Date else {
            return "missing"
        }
        guard (try? String(contentsOfFile: stamp(contender), encoding: .utf8)) == source else {
            return "made from another tree"
        }
        if contender.role == .ksqsh, let executable = contender.executable,
           let toolDate = (try? files.attributesOfItem(atPath: executable))?[.modificationDate] as? Date,
           toolDate > imageDate
        {
            return "ksqsh is newer"
        }
        return nil
    }

    /// Records which tree an image was made from.
    private func stamp(_ contender: Contender) -> String { contender.image + ".source" }
}
