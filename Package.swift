// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ksqsh",
    products: [
        .executable(name: "ksqsh", targets: ["ksqsh"]),
        // For the sibling packages (Fuzz/, Bench/): what they use is `public`;
        // what the layers share only among themselves is `package`.
        .library(
            name: "KernelSquash",
            targets: ["SystemSupport", "SquashFSFormat", "ImageEngine", "Mounting", "Lifecycle", "Portage"]
        ),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // libsquashfs from squashfs-tools-ng (Debian: libsquashfs-dev, Gentoo: sys-fs/squashfs-tools-ng).
        .systemLibrary(
            name: "CSquashFS",
            pkgConfig: "libsquashfs1",
            providers: [.apt(["libsquashfs-dev"])]
        ),
        // libmount from util-linux (Debian: libmount-dev, Gentoo: sys-apps/util-linux).
        .systemLibrary(
            name: "CMount",
            pkgConfig: "mount",
            providers: [.apt(["libmount-dev"])]
        ),
        // Decompressors for `ksqsh squash TARBALL`: liblzma (xz-utils), zlib, zstd.
        .systemLibrary(name: "CLZMA", pkgConfig: "liblzma", providers: [.apt(["liblzma-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // What Swift cannot import from libsquashfs: the inode's flexible array,
        // function-like macros, and an sqfs_file_t that keeps errno.
        .target(
            name: "CKsqsh",
            dependencies: ["CSquashFS"],
            cSettings: [.define("_GNU_SOURCE")]
        ),
        // What Swift cannot call from Glibc: major()/minor(), and the calls
        // that need _GNU_SOURCE (O_TMPFILE, SEEK_DATA, affinity, thread names,
        // a spawned child's working directory).
        .target(name: "CSystemShim", cSettings: [.define("_GNU_SOURCE")]),

        // The layers, bottom up. Each may import only what its dependencies
        // list; ARCHITECTURE.md says what each owns.

        // Errors, the syscall layer, atomic writes, processes, threads, the
        // clock, terminal output, the lock primitive. Knows no kernel and no image.
        .target(
            name: "SystemSupport",
            dependencies: ["CSystemShim", .product(name: "SystemPackage", package: "swift-system")]
        ),
        // Owners of libsquashfs's objects, for writing and for reading images.
        .target(
            name: "SquashFSFormat",
            dependencies: ["CSquashFS", "CKsqsh", "SystemSupport"]
        ),
        // From a tree or a tarball to a verified image: scan, read order,
        // writer, image checks and the comparison, deleting the sources.
        .target(
            name: "ImageEngine",
            dependencies: ["SquashFSFormat", "SystemSupport", "CSquashFS", "CLZMA", "CZlib", "CZstd"]
        ),
        // Loop devices and mounts through libmount, the mount table, who keeps
        // a mount busy. Knows nothing of images beyond their path.
        .target(
            name: "Mounting",
            dependencies: ["CMount", "SystemSupport"]
        ),
        // A kernel version's life under /usr/src: layout, inventory, mounts,
        // the build dir, saved configs; prepare, clean, adopt, status.
        .target(
            name: "Lifecycle",
            dependencies: ["ImageEngine", "Mounting", "SystemSupport"]
        ),
        // Portage's side: its environment, the ebuild phases, the plan for each,
        // the hook runner, and the generated hooks and boot services.
        .target(
            name: "Portage",
            dependencies: ["Lifecycle", "ImageEngine", "Mounting", "SystemSupport"]
        ),
        // Parses arguments and calls the layers; nothing else.
        .executableTarget(
            name: "ksqsh",
            dependencies: [
                "Portage",
                "Lifecycle",
                "ImageEngine",
                "Mounting",
                "SquashFSFormat",
                "SystemSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "KernelSquashTests",
            dependencies: [
                "Portage", "Lifecycle", "ImageEngine", "Mounting", "SquashFSFormat", "SystemSupport",
                "CKsqsh", "CSquashFS", "ksqsh",
            ],
            // The portage phase simulator is a bash script the tests run by path.
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
