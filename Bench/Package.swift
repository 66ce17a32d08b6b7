// swift-tools-version:6.0
import PackageDescription

// ksqsh-bench: ksqsh against mksquashfs and gensquashfs on one kernel tree,
// then cold-read kernel builds from the tree and both images (`make bench`).
// A developer tool, kept out of the main package as Fuzz/ is: `swift build`
// and the installed product never see it, and it may link Foundation, which
// ksqsh does not. `make test` builds it, so it cannot rot.
let package = Package(
    name: "ksqsh-bench",
    dependencies: [
        .package(name: "ksqsh", path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .executableTarget(
            name: "ksqsh-bench",
            dependencies: [
                .product(name: "KernelSquash", package: "ksqsh"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
