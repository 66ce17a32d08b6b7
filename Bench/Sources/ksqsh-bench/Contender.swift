import Foundation
import SystemSupport

/// One row of the table: a tool invocation that turns the source tree into
/// an image. All rows ask for the same image: squashfs 4.0, xz, 1 MiB blocks,
/// dictionary = block size, mtimes kept, every core.
struct Contender {
    /// What the row is compared as. The targets are stated for the
    /// two ksqsh rows against the plain mksquashfs row.
    enum Role { case ksqsh, ksqshVerify, ksqshTarball, baseline, peer }

    let label: String
    let role: Role
    /// How the user would name the program, for "not found" messages.
    let program: String
    /// Resolved path; nil when the program is missing.
    let executable: String?
    let arguments: [String]
    let image: String

    /// The five rows, in the order they run. mksquashfs and gensquashfs get
    /// the options that make their output comparable to ksqsh's defaults:
    /// `-Xdict-size 100%` (xz dictionary = block size, as ksqsh and
    /// gensquashfs use), `-k` (gensquashfs otherwise zeroes every mtime).
    /// With `tarball` (the archive the source tree was unpacked from), a
    /// sixth row squashes the archive itself, without unpacking it.
    static func lineUp(source: String, tarball: String? = nil, scratch: String, tools: Toolset, jobs: Int) -> [Contender] {
        let (ksqsh, mksquashfs, gensquashfs) = (tools.ksqsh, tools.mksquashfs, tools.gensquashfs)
        func image(_ name: String) -> String { "\(scratch)/\(name).sqfs" }
        let fromTarball = tarball.map { tarball in
            Contender(
                label: "ksqsh squash TARBALL", role: .ksqshTarball, program: "ksqsh", executable: ksqsh,
                arguments: ["squash", tarball, image("ksqsh-tarball"), "--quiet", "--force"],
                image: image("ksqsh-tarball"))
        }
        return [
            Contender(
                label: "ksqsh squash", role: .ksqsh, program: "ksqsh", executable: ksqsh,
                arguments: ["squash", source, image("ksqsh"), "--quiet", "--force"],
                image: image("ksqsh")),
            Contender(
                label: "ksqsh squash --verify", role: .ksqshVerify, program: "ksqsh", executable: ksqsh,
                arguments: ["squash", source, image("ksqsh-verify"), "--quiet", "--force", "--verify"],
                image: image("ksqsh-verify")),
            Contender(
                label: "mksquashfs", role: .baseline, program: "mksquashfs", executable: mksquashfs,
                arguments: [
                    source, image("mksquashfs"), "-comp", "xz", "-b", "1M", "-Xdict-size", "100%",
                    "-processors", "\(jobs)", "-noappend", "-quiet", "-no-progress",
                ],
                image: image("mksquashfs")),
            // Default backlog: 10 blocks per job, gensquashfs's own choice.
            Contender(
                label: "gensquashfs", role: .peer, program: "gensquashfs", executable: gensquashfs,
                arguments: [
                    "-D", source, "-c", "xz", "-b", "1M", "-j", "\(jobs)", "-k", "-q", "-f", image("gensquashfs"),
                ],
                image: image("gensquashfs")),
            // Backlog 256 keeps both cores busy on a kernel tree (see
            // docs/squashfs.md): the best the libsquashfs block processor does.
            Contender(
                label: "gensquashfs -Q 256", role: .peer, program: "gensquashfs", executable: gensquashfs,
                arguments: [
                    "-D", source, "-c", "xz", "-b", "1M", "-j", "\(jobs)", "-Q", "256", "-k", "-q", "-f",
                    image("gensquashfs-q256"),
                ],
                image: image("gensquashfs-q256")),
        ] + (fromTarball.map { [$0] } ?? [])
    }

    /// The command as a shell would show it, for the log and error messages
    /// only; nothing is ever run through a shell.
    var commandLine: String {
        ([executable ?? program] + arguments).map { word in
            let plain = !word.isEmpty && word.allSatisfy { $0.isLetter || $0.isNumber || "-_./=%:+,".contains($0) }
            return plain ? word : shellQuoted(word)
        }.joined(separator: " ")
    }
}
