import SystemSupport

/// `ksqsh status --json`: one object per kernel version, keys as the
/// properties are named; absent values are null, so every key is always there.
extension SystemStatus {
    public var json: JSONValue {
        .object([
            "root": .string(root),
            "symlink": symlink.map(JSONValue.string),
            "kernels": .array(kernels.map(\.json)),
        ])
    }
}

extension KernelStatus {
    var json: JSONValue {
        .object([
            "version": .string(version),
            "image": image.map(JSONValue.string),
            "imageBytes": imageBytes.map { .integer(Int64(clamping: $0)) },
            "mountPoint": .string(mountPoint),
            "loopDevice": loopDevice.map(JSONValue.string),
            "buildDirectory": buildDirectory.map(JSONValue.string),
            "configured": .bool(configured),
            "built": .bool(built),
            "installedReleases": .array(installedReleases.map(JSONValue.string)),
            "savedConfig": savedConfig.map(JSONValue.string),
            "package": package.map(JSONValue.string),
            "symlinked": .bool(symlinked),
            "problems": .array(problems.map(JSONValue.string)),
        ])
    }
}
