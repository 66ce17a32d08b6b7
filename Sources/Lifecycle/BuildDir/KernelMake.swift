import ImageEngine
import SystemPackage
import SystemSupport

/// The kernel's own make, building out of tree: `make -C SOURCES O=BUILD target`.
struct KernelMake {
    let sources: FilePath
    let build: FilePath
    var jobs = Processors.available

    /// Portage exports ARCH=amd64 (the kernel wants x86) and a stray
    /// KBUILD_OUTPUT or O would redirect the build, KCONFIG_CONFIG the
    /// config (away from build-KV/.config); the kernel picks its own.
    static let variablesToUnset: Set<String> = ["ARCH", "KBUILD_OUTPUT", "O", "KBUILD_SRC", "KCONFIG_CONFIG"]

    func run(_ target: String) throws {
        let make = ChildProcess(
            executable: "make",
            arguments: ["-C", sources.string, "O=\(build.string)", "-j\(jobs)", "-s", target],
            removedEnvironment: KernelMake.variablesToUnset)
        let status = try make.run()
        guard status == 0 else {
            throw KsqshError(.buildFailed, path: build, "make \(target) failed with status \(status) (its output is above)")
        }
    }
}
