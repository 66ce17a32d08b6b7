import Glibc
import Testing

/// The release binary, as `make install` and the ebuild install it, must keep
/// working after the Swift toolchain that built it is gone (on Gentoo,
/// dev-lang/swift is a build-time dependency that `emerge --depclean`
/// removes, while every installed kernel package keeps calling ksqsh from
/// its saved hooks).
@Suite(
    "The release binary runs without the Swift toolchain",
    .enabled(if: getuid() == 0, "needs root: a private mount namespace hides the toolchain"),
    .enabled(if: LifecycleRequirements.hasLoopDevices, "needs loop devices (/dev/loop-control)"),
    .serialized
)
struct SelfContainedBinaryTests {
    static let packageRoot = ByteString(#filePath).parent.parent.parent
    /// Runs its arguments with the toolchain's libraries and driver covered.
    static let hider = packageRoot / "scripts/without-swift-toolchain"

    /// C libraries the binary may load: its own (libsquashfs, liblzma,
    /// libmount, zlib, zstd), what they pull in, and the C and C++ runtimes
    /// the statically linked Swift runtime stands on.
    static let allowedLibraries: Set<String> = [
        "linux-vdso.so.1", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1",
        "libsquashfs.so.1", "liblzma.so.5", "libmount.so.1", "libz.so.1", "libzstd.so.1",
        "libblkid.so.1", "libselinux.so.1", "libpcre2-8.so.0", "liblz4.so.1",
        "libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1",
    ]

    /// `make build`'s binary; `make test` builds it first.
    static func releaseBinary() throws -> ByteString {
        let binary = packageRoot / ".build/release/ksqsh"
        guard access(binary.string, X_OK) == 0 else {
            throw TestSetupError("\(binary) is missing: run `make build` (`make test` does) before these tests")
        }
        return binary
    }

    @Test("ldd lists only C libraries; no RUNPATH leads into the toolchain; no Foundation or ICU is linked in")
    func linksOnlyCLibraries() throws {
        let binary = try Self.releaseBinary()
        let ldd = try Subprocess.run("ldd", [binary])
        try #require(ldd.succeeded, "\(ldd)")
        let libraries = ldd.stdoutText.split(separator: "\n").compactMap { line in
            line.split(whereSeparator: \.isWhitespace).first.map { String($0.split(separator: "/").last ?? $0) }
        }
        #expect(!libraries.isEmpty)
        let unexpected = libraries.filter { !Self.allowedLibraries.contains($0) }
        #expect(unexpected.isEmpty, "libraries outside the C set: \(unexpected)\n\(ldd.stdoutText)")

        let dynamic = try Subprocess.run("readelf", ["-d", binary])
        try #require(dynamic.succeeded, "\(dynamic)")
        let searchPaths = dynamic.stdoutText.split(separator: "\n").filter { $0.contains("RPATH") || $0.contains("RUNPATH") }
        #expect(searchPaths.allSatisfy { $0.contains("[$ORIGIN]") }, "only $ORIGIN may be searched: \(searchPaths)")

        // Swift mangles Foundation's symbols with "10Foundation"; ICU's C symbols carry the U_ICU prefix "u_".
        let symbols = try Subprocess.run("nm", [binary])
        try #require(symbols.succeeded, "\(symbols)")
        let foundation = symbols.stdoutText.split(separator: "\n").filter {
            $0.contains("s10Foundation") || $0.contains("FoundationInternationalization") || $0.contains("_FoundationICU")
        }
        #expect(foundation.isEmpty, "Foundation is linked in: \(foundation.prefix(5))")
    }

    @Test("with the toolchain hidden: --version, status, squash --verify, verify, mount, umount and hooks print work")
    func worksWithToolchainHidden() throws {
        let binary = try Self.releaseBinary()
        let root = try LifecycleRoot("no-toolchain")
        defer { root.tearDown() }
        let tree = try KernelSkeleton.kconfig.tree()
        let version = LifecycleRoot.version
        let image = root.image(version)
        let mountPoint = root.mountPoint(version)

        // The check has teeth: the runtime is there outside, and gone inside.
        let runtime = try Self.swiftRuntimeLibrary()
        #expect(FS.exists(runtime), "precondition: \(runtime) exists outside the namespace")
        let hidden = try hiddenToolchain("bash", ["-c", "! test -e \"$1\" && ! command -v swift", "look", runtime])
        #expect(hidden.succeeded, "the toolchain is still visible: \(hidden)")

        let printed = try hiddenToolchain(binary, ["--version"])
        #expect(printed.succeeded && !printed.stdoutText.isEmpty, "\(printed)")

        let emptyStatus = try hiddenToolchain(binary, ["status", "--root", root.path])
        #expect(emptyStatus.succeeded && emptyStatus.stdoutText.hasPrefix("\(root.path)/usr/src/linux -> (none)"), "\(emptyStatus)")

        let squash = try hiddenToolchain(binary, ["squash", tree, image, "--verify"])
        #expect(squash.succeeded && squash.stdoutText.contains("verified"), "\(squash)")

        let verify = try hiddenToolchain(binary, ["verify", image, tree])
        #expect(verify.succeeded && verify.stdoutText.contains("OK"), "\(verify)")

        // A mount lives only as long as the namespace: mount, look, unmount in one.
        let script = """
            set -euo pipefail
            "$1" mount --root "$2" --kernel "$3"
            findmnt -n -o FSTYPE --mountpoint "$4"
            cmp "$4/Makefile" "$5/Makefile"
            "$1" status --root "$2" --json
            "$1" umount --root "$2" --kernel "$3"
            """
        let mounted = try hiddenToolchain("bash", ["-c", ByteString(script), "mount-check", binary, root.path, version, mountPoint, tree])
        #expect(mounted.succeeded, "\(mounted)")
        #expect(mounted.stdoutText.contains("\(mountPoint): mounted from \(image)"), "\(mounted)")
        #expect(mounted.stdoutText.contains("squashfs\n"), "the image is mounted as squashfs: \(mounted)")
        #expect(mounted.stdoutText.contains(#""mountPoint" : "mounted""#), "status sees the mount: \(mounted)")
        #expect(mounted.stdoutText.contains("\(mountPoint): unmounted"), "\(mounted)")
        #expect(!FS.exists(mountPoint), "umount removes the empty mount point")

        let hook = try hiddenToolchain(binary, ["hooks", "print", "gentoo-sources"])
        #expect(hook.succeeded && hook.stdoutText.contains("pre_src_install()"), "\(hook)")
    }

    /// libswiftCore.so in the first runtime library directory the driver names.
    static func swiftRuntimeLibrary() throws -> ByteString {
        let info = try Subprocess.run("swift", ["-print-target-info"])
        try #require(info.succeeded, "\(info)")
        let lines = info.stdoutText.split(separator: "\n")
        let start = try #require(lines.firstIndex { $0.contains("\"runtimeLibraryPaths\"") }, "\(info)")
        let directory = lines[(start + 1)...].first.map { line in String(line.filter { $0 != "\"" && $0 != "," && $0 != " " }) } ?? ""
        return ByteString(directory) / "libswiftCore.so"
    }

    private func hiddenToolchain(_ executable: ByteString, _ arguments: [ByteString]) throws -> ProcessResult {
        try Subprocess.run(Self.hider, [executable] + arguments, timeout: .seconds(120))
    }
}
