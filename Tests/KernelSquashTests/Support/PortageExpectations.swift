import Testing

/// What a version looks like after real portage ran the hooks, checked the
/// same way by every RealPortage story.
enum PortageExpectations {
    /// Installed: in the vdb, ROOT/usr/src/linux-KV.sqfs a file that CONTENTS
    /// lists, and nothing of the package inside the mount point (portage
    /// could not merge it over the read-only image).
    static func installed(_ machine: RealPortageMachine, _ pvr: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let kv = GentooSources.kernelVersion(pvr)
        #expect(machine.isInstalled(pvr), "\(pvr) is not in the vdb", sourceLocation: sourceLocation)
        #expect((try? FS.lstat(machine.root.image(kv))).map { EntryType(mode: $0.st_mode) == .file } == true, "\(machine.root.image(kv)) is not installed", sourceLocation: sourceLocation)
        let contents = (try? machine.contents(pvr)) ?? []
        #expect(contents.contains { $0.hasPrefix("obj /usr/src/linux-\(kv).sqfs ") }, "CONTENTS does not list the image: \(contents)", sourceLocation: sourceLocation)
        #expect(!contents.contains { $0.contains(" /usr/src/linux-\(kv)/") }, "the package owns files inside the mount point: \(contents)", sourceLocation: sourceLocation)
    }

    /// Mounted exactly once at ROOT/usr/src/linux-KV, read-only, by one loop
    /// device backed by the installed image as it is now (not a deleted one).
    static func mounted(_ machine: RealPortageMachine, _ kv: ByteString, sourceLocation: SourceLocation = #_sourceLocation) {
        let root = machine.root
        let mounts = root.mounts(at: root.mountPoint(kv))
        #expect(mounts.map(\.fileSystem) == ["squashfs"], "\(root.mountPoint(kv)) should be mounted once: \(mounts)", sourceLocation: sourceLocation)
        #expect(mounts.last?.mountOptions.contains("ro") == true, "\(mounts)", sourceLocation: sourceLocation)
        let backing = LoopBacking.rawBackingFile(mountedAt: root.mountPoint(kv))
        #expect(backing == root.image(kv).string, "the mount's loop device is backed by \(backing ?? "nothing")", sourceLocation: sourceLocation)
        #expect(LoopDevices.attached(to: root.image(kv)).count == 1, "loop devices on the image: \(LoopDevices.attached(to: root.image(kv)))", sourceLocation: sourceLocation)
    }

    /// build-KV holds a .config the kernel's make wrote (hundreds of
    /// options), with the test's mark when given, and the `source` link to
    /// the mounted sources.
    static func configured(
        _ machine: RealPortageMachine, _ kv: ByteString, mark: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let build = machine.root.buildDirectory(kv)
        #expect(KernelConfig.optionCount(of: build / ".config") > 100, "\(build)/.config is missing or not made by make", sourceLocation: sourceLocation)
        if let mark {
            #expect(KernelConfig.localVersion(of: build / ".config") == "-" + mark, "\(build)/.config lost the mark \(mark)", sourceLocation: sourceLocation)
        }
        #expect(FS.realPath(build / "source") == machine.root.mountPoint(kv), "\(build)/source does not lead to the mount point", sourceLocation: sourceLocation)
    }

    /// ROOT/usr/src/linux points at `target` (a build dir's name), or is absent when nil.
    static func symlink(_ machine: RealPortageMachine, _ target: ByteString?, sourceLocation: SourceLocation = #_sourceLocation) {
        let link = try? FS.readlink(machine.root.symlink)
        #expect(link == target, "/usr/src/linux -> \(link?.description ?? "nothing"), expected \(target?.description ?? "nothing")", sourceLocation: sourceLocation)
    }

    /// Retired: not in the vdb, no image, nothing mounted, no mount point, no
    /// build dir, and its .config (with the mark) saved to /etc/kernels.
    static func removed(_ machine: RealPortageMachine, _ pvr: String, mark: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let root = machine.root
        let kv = GentooSources.kernelVersion(pvr)
        #expect(!machine.isInstalled(pvr), "\(pvr) is still in the vdb", sourceLocation: sourceLocation)
        #expect(!FS.exists(root.image(kv)), "\(root.image(kv)) is left", sourceLocation: sourceLocation)
        #expect(root.mounts(at: root.mountPoint(kv)).isEmpty, "\(root.mountPoint(kv)) is still mounted", sourceLocation: sourceLocation)
        #expect(!FS.exists(root.mountPoint(kv)), "the mount point \(root.mountPoint(kv)) is left", sourceLocation: sourceLocation)
        #expect(!FS.exists(root.buildDirectory(kv)), "the build dir \(root.buildDirectory(kv)) is left", sourceLocation: sourceLocation)
        #expect(KernelConfig.localVersion(of: root.savedConfig(kv)) == "-" + mark, "\(root.savedConfig(kv)) does not hold the marked .config", sourceLocation: sourceLocation)
    }

    /// ROOT/usr/src holds exactly `names`, and nothing is mounted under ROOT
    /// but the versions in `mounted`; no loop device is left on a deleted image.
    static func nothingStray(
        _ machine: RealPortageMachine, usrSrc names: Set<String>, mounted: [ByteString], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let root = machine.root
        let listed = Set(((try? FS.list(root.sources)) ?? []).map(\.string))
        #expect(listed == names, "usr/src holds \(listed.sorted()), expected \(names.sorted())", sourceLocation: sourceLocation)
        let targets = root.mounts.map(\.target)
        #expect(Set(targets) == Set(mounted.map { root.mountPoint($0) }) && targets.count == mounted.count, "mounts under ROOT: \(targets)", sourceLocation: sourceLocation)
        #expect(LoopBacking.deletedFiles(under: root.path).isEmpty, "loop devices on deleted images: \(LoopBacking.deletedFiles(under: root.path))", sourceLocation: sourceLocation)
    }
}

extension KernelConfig {
    /// What a user's edit of the build dir's config looks like: the
    /// generated .config with CONFIG_LOCALVERSION="-MARK" (a string option
    /// that olddefconfig keeps as written).
    static func mark(_ config: ByteString, _ mark: String) throws {
        var lines = String(decoding: try FS.readFile(config), as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let setting = "CONFIG_LOCALVERSION=\"-\(mark)\""
        if let index = lines.firstIndex(where: { $0.hasPrefix("CONFIG_LOCALVERSION=") }) {
            lines[index] = setting
        } else {
            lines.insert(setting, at: 0)
        }
        try FS.writeFile(config, Array(lines.joined(separator: "\n").utf8))
    }
}
