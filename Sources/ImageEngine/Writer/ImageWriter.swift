import CSquashFS
import Glibc
import SquashFSFormat
import SystemPackage
import SystemSupport

/// What a finished image holds.
public struct ImageSummary: Sendable {
    public var entries: Int
    public var inputBytes: UInt64
    public var imageBytes: UInt64
    /// What came from earlier images (`--reuse`), if any were named.
    public var reuse: ReuseReport?

    public init(entries: Int, inputBytes: UInt64, imageBytes: UInt64, reuse: ReuseReport? = nil) {
        self.entries = entries
        self.inputBytes = inputBytes
        self.imageBytes = imageBytes
        self.reuse = reuse
    }
}

/// Assembles a squashfs 4.0 image with libsquashfs, in the order the format
/// needs: super block placeholder and compressor options (`init`), file data
/// and fragments (a `DataWriter`, fed by the caller), then inode table,
/// directory table, fragment table, id table and the real super block
/// (`finish`).
final class ImageWriter {
    private let file: SquashFSFile
    private let options: SquashOptions
    private let compressor: Compressor
    private var superBlock = sqfs_super_t()

    init(file: SquashFSFile, options: SquashOptions) throws {
        self.file = file
        self.options = options
        guard sqfs_super_init(&superBlock, options.blockSize, 0, options.compression.id) == 0 else {
            throw KsqshError(.internalError, "invalid block size \(options.blockSize)")
        }
        try check(sqfs_super_write(&superBlock, file.handle), "writing the super block", file: file)

        compressor = try Compressor(options.compression, blockSize: options.blockSize, forReading: false)
        let optionBytes = compressor.writeOptions(to: file)
        if optionBytes < 0 { try check(optionBytes, "writing the compressor options", file: file) }
        if optionBytes > 0 { superBlock.flags |= UInt16(SQFS_FLAG_COMPRESSOR_OPTIONS.rawValue) }
    }

    /// Writes a scanned tree's whole image.
    static func write(_ tree: SourceTree, to file: SquashFSFile, options: SquashOptions, progress: Progress?) throws -> ImageSummary {
        let image = try ImageWriter(file: file, options: options)
        let reuse = try image.openReuseImages()
        let data = try DataWriter(file: file, options: options, recall: SourceTailRecall(tree), reuse: reuse, progress: progress)
        var placement = (options.layout ?? DataLayout.automatic(for: tree)).placement(tree)
        if let sortFile = options.sortFile { placement.order = sortFile.apply(to: placement.order) }
        try data.writeData(of: placement, from: tree)
        try image.finish(root: tree.root, data: data, placement: placement, newestMtime: tree.newestMtime)
        return ImageSummary(entries: tree.entryCount, inputBytes: tree.regularFileBytes, imageBytes: file.size, reuse: reuse?.report)
    }

    /// The images of `--reuse`, opened against the settings this image was
    /// begun with: the bytes after its super block, the compressor's options.
    func openReuseImages() throws -> BlockReuse? {
        guard !options.reuse.isEmpty else { return nil }
        var settings = [UInt8](repeating: 0, count: Int(file.size - ImageLayout.superBlockSize))
        if !settings.isEmpty {
            try settings.withUnsafeMutableBytes { bytes in
                try check(file.read(at: ImageLayout.superBlockSize, into: bytes), "reading back the compressor options", file: file)
            }
        }
        return BlockReuse(options.reuse, options: options, settings: settings)
    }

    /// Writes the tables for the tree below `root`, whose file data `data`
    /// has written (with `layouts` keyed by the nodes of that tree), the
    /// files' inodes in the order of `placement`, the listings it names
    /// uncompressed, and the final super block. The image
    /// time is --time, else SOURCE_DATE_EPOCH, else the newest mtime, so the
    /// same input always gives the same bytes.
    func finish(
        root: TreeNode, data: DataWriter, layouts: [ObjectIdentifier: FileLayout]? = nil, placement: DataPlacement, newestMtime: UInt32
    ) throws {
        superBlock.modification_time = options.modificationTime ?? SquashOptions.sourceDateEpoch ?? newestMtime
        let ids = try IdTable()
        let tables = try MetadataTables(
            file: file, compressor: compressor, ids: ids, layouts: layouts ?? data.layouts, keepOwner: options.keepOwner,
            rawListings: placement.rawListings)
        superBlock.inode_table_start = file.size
        superBlock.root_inode_ref = try tables.writeInodes(of: root, fileOrder: placement.order)
        superBlock.directory_table_start = file.size
        try tables.writeDirectoryTable()
        // Every inode the kernel reads also reads its fragment's entry and
        // its owner's id, through a cache of eight metadata blocks that
        // evicts in turn, so these blocks are fetched again and again.
        // Stored raw, a fetch is a copy, not an 8 KiB xz decompression, for
        // a few KB more image (README, "Performance").
        try compressor.storingRaw {
            try data.fragmentTable.write(to: file, super: &superBlock, compressor: compressor)
            try ids.write(to: file, super: &superBlock, compressor: compressor)
        }
        // Only files smaller than a block use fragments (libsquashfs assumes all do).
        superBlock.flags &= ~UInt16(SQFS_FLAG_ALWAYS_FRAGMENTS.rawValue)

        superBlock.inode_count = tables.inodeCount
        superBlock.bytes_used = file.size
        try check(sqfs_super_write(&superBlock, file.handle), "writing the super block", file: file)
        try padToDeviceBlock()
    }

    /// Loop devices and mksquashfs want the image a multiple of 4 KiB.
    private func padToDeviceBlock() throws {
        let remainder = Int(file.size % 4096)
        guard remainder != 0 else { return }
        let zeros = [UInt8](repeating: 0, count: 4096 - remainder)
        try zeros.withUnsafeBytes { bytes in
            try check(file.write(at: file.size, bytes), "padding the image", file: file)
        }
    }
}
