import SystemSupport

/// When a kernel build reads a file: the rule table behind `DataLayout.kernel`.
///
/// A cold read from a mounted image costs one whole fragment block (up to
/// 1 MiB of xz) per small file whose block is not among the three the kernel
/// caches. Traced on linux-source-6.12, `make defconfig` opens ~1,650 files
/// (6 MB, nearly all Kconfig) and `make modules_prepare` ~840 (6 MB: headers,
/// host programs, objtool). Stored in tree order those reads hop between
/// blocks and decompress ~740 and ~480 of them. So files go in groups by
/// build step, and within the big groups in the order the build follows
/// references: Kconfig `source` lines and C `#include` lines. Then
/// defconfig decompresses 12 blocks (8 MB); modules_prepare, whose make
/// jobs and compilers read side by side, ~130 small ones (30 MB).
public enum KernelReadOrder {
    public enum Group: Int, CaseIterable, Sendable {
        /// What every make run reads before anything else, and the host
        /// tools defconfig and modules_prepare compile: the top Makefile and
        /// Kbuild, arch/*/Makefile, every Makefile and Kbuild of scripts/,
        /// the Kbuild lists of generated headers in include directories, the
        /// files directly in scripts/ and those in `kbuildScripts`; by
        /// `KbuildKind`.
        case kbuild
        /// What `make defconfig` parses: every Kconfig* in the order `source`
        /// lines reach them from the top Kconfig for the leading arch, its
        /// defconfigs, the other arches' Kconfig files, then their defconfigs.
        case configuration
        /// The other Makefile* and Kbuild* and the rest of scripts/: read by
        /// modules_prepare in part and by every later build step.
        case makefiles
        /// What `make modules_prepare` reads: include/, arch/*/include,
        /// objtool's part of tools/, the syscall tables, asm-offsets; ranked
        /// as `ModulesPrepareReads` reaches them, which also moves here the
        /// files it reaches elsewhere (modpost's and genheaders' headers).
        case preparation
        /// Everything else, in tree order.
        case rest

        /// The groups a cold build reads from: a tarball holds their small
        /// files until it can store them as the unpacked tree would be.
        public var isReadFirst: Bool { self == .kbuild || self == .configuration || self == .preparation }
    }

    /// Architectures in the order their files are ranked: x86 first, as the
    /// most common target, then the others by name. A fixed order (not the
    /// build host's) keeps images of one tree identical on every machine;
    /// another arch's build still finds its own files in reading order, just
    /// after x86's.
    static let leadingArch = "x86"

    /// The parts of tools/ that modules_prepare builds objtool from; the rest
    /// (perf, selftests: ~60 MB) is never read before a full build.
    static let preparationTools: Set<String> = ["arch", "build", "include", "lib", "objtool", "scripts"]

    /// Directories of scripts/ holding the host tools defconfig and modules_prepare build.
    static let kbuildScripts: Set<String> = ["basic", "include", "kconfig", "mod", "selinux"]

    /// The group of a path relative to the top of the tree. The first rule
    /// that matches decides.
    public static func group(of path: [UInt8]) -> Group {
        let components = path.split(separator: UInt8(ascii: "/")).map { String(decoding: $0, as: UTF8.self) }
        guard let name = components.last, let top = components.first else { return .rest }
        let isMakefile = name.hasPrefix("Makefile") || name.hasPrefix("Kbuild")
        if name.hasPrefix("Kconfig") { return .configuration }
        // The top Makefile includes arch/$(SRCARCH)/Makefile for every target.
        if isMakefile && (components.count == 1 || (top == "arch" && components.count == 3)) { return .kbuild }
        if top == "scripts" {
            return components.count == 2 || kbuildScripts.contains(components[1]) || isMakefile ? .kbuild : .makefiles
        }
        if top == "arch", components.count > 3, components[2] == "configs" { return .configuration }
        // Which asm headers kbuild generates as wrappers: every make run reads these lists.
        let inIncludeDirectory = top == "include" || (top == "arch" && components.count > 3 && components[2] == "include")
        if name.hasPrefix("Kbuild") && inIncludeDirectory { return .kbuild }

        // Makefiles of these areas stay with them: modules_prepare reads both.
        if top == "include" { return .preparation }
        if top == "tools", components.count > 2, preparationTools.contains(components[1]) { return .preparation }
        // make enters tools/ through its Makefile to build objtool.
        if top == "tools", components.count == 2, isMakefile { return .preparation }
        if top == "arch", components.count > 3 {
            let area = components[2]
            if area == "include" || area == "tools" { return .preparation }
            if area == "entry", components.count > 4, components[3] == "syscalls" { return .preparation }
            if area == "kernel", components.count == 4, name.hasPrefix("asm-offsets") { return .preparation }
        }
        if ["kernel/bounds.c", "kernel/time/timeconst.bc"].contains(components.joined(separator: "/")) { return .preparation }
        return isMakefile ? .makefiles : .rest
    }

    /// Where a kernel tree's files go: the storage order (indices of the
    /// paths, in tree order), and which of them get small fragment blocks.
    public struct Plan: Sendable {
        public let order: [Int]
        public let smallFragments: Set<Int>
    }

    /// The largest fragment block for the files the leading arch's
    /// defconfig and modules_prepare read again and again. Two `make`
    /// jobs, objtool's build and the compilers read such files from more
    /// fragment blocks at once than the kernel's three cached ones, however
    /// they are ordered, and each miss decompresses a whole block; in
    /// 256 KiB blocks a miss costs a quarter, while xz gains little beyond
    /// 256 KiB of C text. Smaller blocks read less again but measured no
    /// faster (README, "Performance", has the figures). Every other
    /// fragment block is the full block size.
    public static let smallFragmentBytes = 256 * 1024

    /// Storage order for `paths` (in tree order): the indices of `paths`,
    /// grouped, the configuration and preparation groups ranked by how the
    /// build reaches them, the kbuild group by `KbuildKind`. `contents`
    /// returns the bytes of `paths[index]` (its `referenceLines` are
    /// enough), or nil when it cannot be read (the file then references
    /// nothing). And the files for small fragment blocks: the kbuild group,
    /// what the leading arch's modules_prepare reaches, and what
    /// `isLeadingArchTool` names.
    public static func plan(paths: [[UInt8]], contents: @escaping (Int) -> [UInt8]?) -> Plan {
        let names = paths.map { String(decoding: $0, as: UTF8.self) }
        var groups = paths.map(group(of:))
        let graph = ReferenceGraph(paths: names, contents: contents)
        let arches = graph.arches(leading: leadingArch)

        // defconfig parses one arch's Kconfig files, then reads its defconfig:
        // those of the first arch come before any other arch's.
        let first = Array(arches.prefix(1))
        var configuration = graph.firstReach(from: ["Kconfig"], following: .kconfigSources(arches: first))
        for defconfig in first.flatMap({ graph.paths(under: "arch/\($0)/configs/") }).compactMap(graph.index(of:)) {
            if configuration[defconfig] == nil { configuration[defconfig] = configuration.count }
        }
        graph.extendFirstReach(&configuration, from: ["Kconfig"], following: .kconfigSources(arches: arches))
        var preparation: [Int: Int] = [:]
        var leadingReach = 0
        for arch in arches {
            ModulesPrepareReads.extend(&preparation, for: arch, in: graph)
            if arch == leadingArch { leadingReach = preparation.count }
        }
        for file in preparation.keys where groups[file] == .makefiles || groups[file] == .rest {
            groups[file] = .preparation
        }

        func rank(_ index: Int) -> Int {
            switch groups[index] {
            case .kbuild: KbuildKind(name: paths[index].split(separator: UInt8(ascii: "/")).last ?? []).rawValue
            case .configuration: configuration[index] ?? Int.max
            case .preparation: preparation[index] ?? Int.max
            default: 0
            }
        }
        // Sorting by (group, rank, tree position) keeps unranked files in tree order.
        let order = paths.indices.sorted { a, b in
            (groups[a].rawValue, rank(a), a) < (groups[b].rawValue, rank(b), b)
        }
        let small = paths.indices.filter { index in
            groups[index] == .kbuild
                || (groups[index] == .preparation && (rank(index) < leadingReach || isLeadingArchTool(names[index])))
        }
        return Plan(order: order, smallFragments: Set(small))
    }

    /// The order within the kbuild group: what make itself reads, then the
    /// scripts it runs, then the host programs' sources, then the rest —
    /// perl and python that no build step reads (checkpatch.pl alone is
    /// 240 KB), which would otherwise sit between the files a build does.
    enum KbuildKind: Int {
        case makefile, script, source, other

        init(name: ArraySlice<UInt8>) {
            let name = String(decoding: name, as: UTF8.self)
            // The part after the last dot, "" for none (setlocalversion).
            let suffix = name.lastIndex(of: ".").map { String(name[name.index(after: $0)...]) } ?? ""
            if name.hasPrefix("Makefile") || name.hasPrefix("Kbuild") || ["include", "mak"].contains(suffix) {
                self = .makefile
            } else if ["", "sh"].contains(suffix) {
                self = .script
            } else if ["c", "h", "l", "y", "S"].contains(suffix) {
                self = .source
            } else {
                self = .other
            }
        }
    }

    /// The lines of `text` that name other files (`#include`, Kconfig
    /// `source`): all `plan` reads of a file, since both parsers look at
    /// one line at a time. A tarball keeps only these while it streams by;
    /// the unpacked tree is reduced the same way, so both rank alike.
    public static func referenceLines(in text: [UInt8]) -> [UInt8] {
        var kept: [UInt8] = []
        for line in text.split(separator: UInt8(ascii: "\n")) where Include.parse(line) != nil || KconfigSource.parse(line) != nil {
            kept += line
            kept.append(UInt8(ascii: "\n"))
        }
        return kept
    }

    /// What modules_prepare builds objtool, the syscall tables and the
    /// relocs tool from for the leading arch that no `#include` reaches:
    /// objtool's, libsubcmd's and the build system's files under tools/,
    /// tools/ARCH, and the arch's syscall tables and tools. The rest of
    /// tools/ (perf, libbpf, the selftests) is never read before a full build.
    static func isLeadingArchTool(_ path: String) -> Bool {
        let components = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard components.count > 1 else { return false }
        switch components[0] {
        case "tools":
            switch components[1] {
            case "objtool", "scripts": return true
            case "build": return components.count == 3
            case "lib": return components.count > 3 && components[2] == "subcmd"
            case "arch": return components.count > 3 && components[2] == leadingArch
            default: return components.count == 2 && components[1] == "Makefile"
            }
        case "arch":
            return components.count > 3 && components[1] == leadingArch
                && (components[2] == "tools" || (components[2] == "entry" && components[3] == "syscalls"))
        default:
            return false
        }
    }
}

extension KernelReadOrder {
    /// Directories holding at least this many small-fragment files have
    /// their listings stored uncompressed. A compiler looks every header
    /// name up in them, and the kernel keeps eight metadata blocks,
    /// evicting in turn: a cold modules_prepare fetched each block of
    /// include/linux's listing (37 KB, five blocks) 40 to 90 times. Raw, a
    /// fetch is a copy instead of an 8 KiB xz decompression. On
    /// linux-source-6.12 this is include/linux, include/uapi/linux,
    /// arch/x86/include/asm and scripts, for 30 KB more image.
    static let rawListingFiles = 48

    /// `files` (in tree order) in storage order. Files are read only to
    /// follow references; one that cannot be read now references nothing
    /// here and fails later, when its data is stored, with a proper error.
    static func placement(_ files: [TreeNode], in tree: SourceTree) -> DataPlacement {
        placement(files) { index in
            let file = files[index]
            guard file.size <= ReferenceGraph.largestParsed, let reader = try? SourceFileReader(file, in: tree) else { return nil }
            var bytes = [UInt8](repeating: 0, count: Int(file.size))
            guard (try? bytes.withUnsafeMutableBytes({ try reader.read(into: $0, at: 0) })) != nil else { return nil }
            return referenceLines(in: bytes)
        }
    }

    /// `files` (in tree order) in storage order, given the reference lines
    /// of `files[index]` (nil: none known).
    static func placement(_ files: [TreeNode], referenceLines: @escaping (Int) -> [UInt8]?) -> DataPlacement {
        let plan = plan(paths: files.map(\.relativePath), contents: referenceLines)
        var smallFilesIn: [ObjectIdentifier: Int] = [:]
        for index in plan.smallFragments {
            if let directory = files[index].parent { smallFilesIn[ObjectIdentifier(directory), default: 0] += 1 }
        }
        return DataPlacement(
            order: plan.order.map { files[$0] },
            smallFragments: Set(plan.smallFragments.map { ObjectIdentifier(files[$0]) }),
            rawListings: Set(smallFilesIn.filter { $0.value >= rawListingFiles }.keys))
    }
}
