import SystemSupport

/// `ksqsh status --json`: one object per kernel version, keys as the
/// properties are named; absent values are left out.
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
            "savedConfig": savedConfig.map(JSONValue.string),
            "package": package.map(JSONValue.string),
            "symlinked": .bool(symlinked),
            "problems": .array(problems.map(JSONValue.string)),
        ])
    }
}
