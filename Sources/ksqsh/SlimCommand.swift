import ArgumentParser
import Lifecycle
import Mounting
import SystemSupport

struct SlimCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slim",
        abstract: "After a build, keep only what out-of-tree modules and reconfiguring need.",
        discussion: """
            Run it after 'make modules_install install'. Keeps .config (never \
            touched), Makefile, the source link, Module.symvers, System.map, \
            include/, arch/*/include/, the host programs in scripts/, objtool, \
            resolve_btfids and generated module signing keys; removes the objects, \
            vmlinux and the boot image. Refuses a build dir without a finished \
            build, or whose modules are not in ROOT/lib/modules/RELEASE, unless \
            --force. A later 'make' builds everything again.
            """
    )

    @OptionGroup var kernel: KernelOptions

    @Flag(help: "Only print what would be removed.")
    var pretend = false

    @Flag(help: "Slim without a finished build or installed modules.")
    var force = false

    func run() throws {
        let layout = try reportingErrors { try kernel.layout() }
        let report = try reportingErrors {
            if !pretend { try MountEnvironment.requireRoot(to: "slim \(layout.buildDirectory.displayed)") }
            var slim = Slim(layout: layout)
            slim.pretend = pretend
            slim.force = force
            return try slim.run()
        }
        print(Self.summary(report, of: layout, pretend: pretend))
    }

    /// "build-KV: 1650.2 MB in 41210 inodes → …; removed … (97.1 % of the bytes, 93.0 % of the inodes)".
    static func summary(_ report: Slim.Report, of layout: KernelLayout, pretend: Bool = false) -> String {
        func usage(_ usage: DiskUsage) -> String { "\(formatMegabytes(usage.bytes)) in \(usage.inodes) inodes" }
        func percent(_ part: Int, of whole: Int) -> String {
            String(cFormat: "%.1f %%", whole == 0 ? 0 : Double(part) * 100 / Double(whole))
        }
        let verb = pretend ? "would remove" : "removed"
        let shares = "\(percent(Int(report.removed.bytes), of: Int(report.before.bytes))) of the bytes, \(percent(report.removed.inodes, of: report.before.inodes)) of the inodes"
        return "\(layout.buildDirectory): \(usage(report.before)) → \(usage(report.after)); \(verb) \(usage(report.removed)) (\(shares))"
    }
}
