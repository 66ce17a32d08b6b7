// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ksqsh",
    products: [
        .executable(name: "ksqsh", targets: ["ksqsh"]),
        .library(name: "KernelSquash", targets: ["KernelSquash"]),
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
        // What Swift cannot import from C: the inode's flexible array, function-like
        // macros, major()/minor(), and an sqfs_file_t that keeps errno.
        .target(
            name: "CKsqsh",
            dependencies: ["CSquashFS"],
            cSettings: [.define("_GNU_SOURCE")]
        ),
        .target(
            name: "KernelSquash",
            dependencies: [
                "CSquashFS",
                "CMount",
                "CKsqsh",
                "CLZMA",
                "CZlib",
                "CZstd",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(
            name: "ksqsh",
            dependencies: [
                "KernelSquash",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "KernelSquashTests",
            dependencies: ["KernelSquash", "CKsqsh", "CSquashFS", "ksqsh"],
            // The portage phase simulator is a bash script the tests run by path.
            exclude: ["Fixtures"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
