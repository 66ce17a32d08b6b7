import ArgumentParser
import Lifecycle
import Mounting
import SystemSupport

struct CleanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clean",
        abstract: "Save the build dir's .config, remove the build dir, unmount.",
        discussion: """
            The .config goes to ROOT/etc/kernels/kernel-config-KV first (a different \
            one already there is kept as kernel-config-KV~TIME). Only paths inside \
            ROOT/usr/src with the expected names are touched; symlinks are never followed.
            """
    )

    @OptionGroup var kernel: KernelOptions

    @Flag(help: "Also delete the image.")
    var image = false

    @Flag(help: "Only print what would be done.")
    var pretend = false

    func run() throws {
        let actions = try reportingErrors {
            if !pretend { try MountEnvironment.requireRoot(to: "clean up kernel \(kernel.kernel ?? "sources")") }
            var clean = Clean(layout: try kernel.layout())
            clean.removeImage = image
            clean.pretend = pretend
            return try clean.run()
        }
        if actions.isEmpty { print("nothing to clean") }
        for action in actions { print(pretend ? "would \(action)" : "\(action)") }
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show each kernel version: image, mount, build dir, saved config, problems."
    )

    @OptionGroup var system: RootOptions

    @Flag(help: "Print JSON for scripts.")
    var json = false

    func run() throws {
        let status = SystemStatus(eroot: system.eroot)
        if json {
            print(status.json.text)
            return
        }
        print("\(status.root == "/" ? "" : status.root)/usr/src/linux -> \(status.symlink ?? "(none)")")
        let rows = status.kernels.map { kernel in
            [
                kernel.version + (kernel.symlinked ? " *" : ""),
                kernel.imageBytes.map(formatMegabytes) ?? "-",
                kernel.mountPoint + (kernel.loopDevice.map { " (\($0))" } ?? ""),
                kernel.buildDirectory == nil ? "-" : (kernel.built ? "built" : kernel.configured ? "configured" : "not configured"),
                kernel.savedConfig == nil ? "-" : "saved",
                kernel.package ?? "-",
            ]
        }
        printTable(header: ["VERSION", "IMAGE", "SOURCES", "BUILD DIR", "CONFIG", "PACKAGE"], rows: rows)
        for kernel in status.kernels {
            for problem in kernel.problems { print("\(kernel.version): \(problem)") }
        }
    }

    private func printTable(header: [String], rows: [[String]]) {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        for row in all {
            let padded = zip(row, widths).map { cell, width in cell + String(repeating: " ", count: width - cell.count) }
            print(padded.joined(separator: "  ").trimmingWhitespace)
        }
    }
}

struct AdoptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adopt",
        abstract: "Turn unpacked /usr/src/linux-KV into image + mount + build dir.",
        discussion: """
            Saves the tree's .config, squashes the tree next to it with verification, \
            empties it only after the image is verified, mounts the image there and \
            prepares build-KV from the saved config.
            """
    )

    @OptionGroup var kernel: KernelOptions

    @Flag(help: "Clean a tree that was configured or built in place (make mrproper) after saving its .config.")
    var mrproper = false

    @Flag(help: "No progress.")
    var quiet = false

    func run() throws {
        guard let version = kernel.kernel.flatMap(KernelVersion.init) else {
            throw ValidationError("adopt needs --kernel KV: the version of ROOT/usr/src/linux-KV")
        }
        let layout = KernelLayout(eroot: kernel.eroot, version: version)
        let report = try reportingErrors {
            // Both refused before the tree is touched, not after it is squashed and emptied.
            try MountEnvironment.requireRoot(to: "adopt \(layout.mountPoint.displayed)")
            try Prepare.requireBuildablePaths(layout)
            var adopt = Adopt(layout: layout)
            adopt.mrproper = mrproper
            adopt.quiet = quiet
            adopt.root = kernel.system.rootPath
            return try adopt.run()
        }
        if let saved = report.savedConfig { print("config: \(saved)") }
        if let squash = report.squash {
            print("\(layout.image): \(squash.summary.entries) entries, verified; \(layout.mountPoint) mounted from it")
        } else {
            print("\(layout.image): squashed by an earlier run; \(layout.mountPoint) mounted from it")
        }
        for line in report.prepare.configLines(layout) { print(line) }
    }
}
