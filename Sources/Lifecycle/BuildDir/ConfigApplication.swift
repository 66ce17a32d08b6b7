import Glibc
import SystemPackage
import SystemSupport

/// Writes the build dir's .config: the chain's base, then the config.d
/// fragments merged over it, then `make olddefconfig` (as
/// kernel-build.eclass does), so every option the fragments leave unset
/// gets its default and every dependency holds.
struct ConfigApplication {
    let layout: KernelLayout
    let choice: ConfigChoice
    /// In merge order.
    let fragments: [FilePath]

    /// What was done: the base, the fragments merged, and the notes.
    struct Outcome: Sendable {
        var choice: ConfigChoice
        var merged: [FilePath]
    }

    func run() throws -> Outcome {
        let make = KernelMake(sources: layout.mountPoint, build: layout.buildDirectory)
        let target = layout.buildDirectory.appending(".config")
        var outcome = Outcome(choice: choice, merged: [])

        switch choice.base {
        case .existing:
            // The user's own config wins: fragments are merged only into a
            // config ksqsh writes, never behind the user's back.
            if !fragments.isEmpty {
                outcome.choice.notes.append(.fragmentsNotApplied(fragments, buildDirectory: layout.buildDirectory, sources: layout.mountPoint))
            }
            // The kernel's make rewrites it by renaming it to .config.old
            // and a new file over it, syncing neither: a power cut may leave
            // neither name. The saved copy, synced first, survives any cut.
            _ = try SavedConfigs.save(target, for: layout)
            try make.run("olddefconfig")
            return outcome
        case .given(let path):
            // --config replaces the build dir's config: keep the old one first.
            if isRegularFile(target) { _ = try SavedConfigs.save(target, for: layout) }
            try writeAtomically(try readFileBytes(path), to: target)
        case .saved(let path), .portageSavedConfig(let path), .otherVersion(let path, _):
            try writeAtomically(try readFileBytes(path), to: target)
        case .runningKernel(let path):
            try decompress(path, to: target)
        case .defconfig:
            try make.run("defconfig")
            if fragments.isEmpty { return outcome }
        }
        if !fragments.isEmpty {
            try ConfigFragments.merge(fragments, sources: layout.mountPoint, build: layout.buildDirectory)
            outcome.merged = fragments
        }
        try make.run("olddefconfig")
        return outcome
    }

    private func decompress(_ compressed: FilePath, to target: FilePath) throws {
        let temporary = target.removingLastComponent().appending(".config.ksqsh-gz")
        let descriptor = try FileDescriptor.open(temporary, .writeOnly, options: [.create, .truncate, .closeOnExec], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        defer { try? descriptor.close() }
        let status = try ChildProcess(executable: "gzip", arguments: ["-dc", compressed.string], standardOutput: descriptor).run()
        guard status == 0, (try? temporary.rename(to: target)) != nil else {
            try? temporary.unlink()
            throw KsqshError(.buildFailed, path: compressed, "cannot decompress the running kernel's config")
        }
    }
}
