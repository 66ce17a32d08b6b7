// swift-tools-version:6.0
import PackageDescription

// The libFuzzer target over ksqsh's image-reading path, kept out of the main
// package so plain `swift build` and `swift test` never see it: it only
// links with -sanitize=fuzzer, which also instruments KernelSquash for
// coverage. Build and run it with `make fuzz`.
let package = Package(
    name: "ksqsh-fuzz",
    dependencies: [
        .package(name: "ksqsh", path: ".."),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        .target(name: "CFuzzer"),
        .executableTarget(
            name: "ksqsh-fuzz",
            dependencies: [
                "CFuzzer",
                .product(name: "KernelSquash", package: "ksqsh"),
                .product(name: "SystemPackage", package: "swift-system"),
            ],
            // gold trips over the sanitizer runtime (an internal error in
            // format_file_lineno); the toolchain's lld links it.
            linkerSettings: [.unsafeFlags(["-use-ld=lld"])]
        )
    ],
    swiftLanguageModes: [.v6]
)
