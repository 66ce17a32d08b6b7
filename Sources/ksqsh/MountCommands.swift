import ArgumentParser
import ImageEngine
import Lifecycle
import Mounting
import SystemSupport

struct MountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mount",
        abstract: "Loop-mount a kernel image read-only at /usr/src/linux-KV.",
        discussion: "Mounting an image that is already mounted there does nothing and succeeds."
    )

    @OptionGroup var kernel: KernelOptions

    @Flag(help: "Mount every linux-*.sqfs under ROOT/usr/src (what boot scripts run).")
    var all = false

    func run() throws {
        if let warning = MountEnvironment.vanishingMountWarning(for: .command) {
            writeToStandardErrorLine("ksqsh: warning: \(warning)")
        }
        if all {
            try reportAll(KernelMounts.mountAll(eroot: kernel.eroot), done: "mounted", noop: "already mounted")
            return
        }
        let layout = try reportingErrors { try kernel.layout() }
        let outcome = try reportingErrors { try KernelMounts.mount(layout) }
        print("\(layout.mountPoint): \(outcome == .mounted ? "mounted" : "already mounted") from \(layout.image)")
    }
}

struct UmountCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "umount",
        abstract: "Unmount a kernel image and remove its empty mount point.",
        discussion: "A busy mount is reported with the processes holding it."
    )

    @OptionGroup var kernel: KernelOptions

    @Flag(help: "Unmount every kernel image under ROOT/usr/src.")
    var all = false

    @Flag(help: "Detach now even if busy; the kernel finishes the unmount when it is no longer used.")
    var lazy = false

    func run() throws {
        if all {
            try reportAll(KernelMounts.unmountAll(eroot: kernel.eroot, lazy: lazy), done: "unmounted", noop: "not mounted")
            return
        }
        let layout = try reportingErrors { try kernel.layout() }
        let unmounted = try reportingErrors { try KernelMounts.unmount(layout, lazy: lazy) }
        print("\(layout.mountPoint): \(unmounted ? "unmounted" : "not mounted")")
    }
}

/// One line per version; the first failure's status is the exit status.
func reportAll(_ attempts: [KernelMounts.Attempt], done: String, noop: String) throws {
    var firstFailure: KsqshError?
    for attempt in attempts {
        switch attempt.result {
        case .success(let changed):
            print("\(attempt.version): \(changed ? done : noop)")
        case .failure(let error):
            writeToStandardErrorLine("ksqsh: \(error.description)")
            firstFailure = firstFailure ?? error
        }
    }
    if let firstFailure { throw ExitCode(firstFailure.exitStatus) }
}
