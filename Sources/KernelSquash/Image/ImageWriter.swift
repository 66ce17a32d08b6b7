import CSquashFS
import Glibc
import SystemPackage

/// What a finished image holds.
public struct ImageSummary: Sendable {
    public var entries: Int
    public var inputBytes: UInt64
    public var imageBytes: UInt64
}

/// Assembles a squashfs 4.0 image of a scanned tree with libsquashfs, in the
/// order the format needs: super block placeholder, compressor options, file
/// data and fragments, inode table, directory table, fragment table, id
/// table, then the real super block.
enum ImageWriter {
    static func write(_ tree: SourceTree, to file: SquashFSFile, path: FilePath, options: SquashOptions, progress: Progress?) throws -> ImageSummary {
        let time = options.modificationTime ?? SquashOptions.sourceDateEpoch ?? tree.newestMtime
        var superBlock = sqfs_super_t()
        guard sqfs_super_init(&superBlock, options.blockSize, time, options.compression.id) == 0 else {
            throw KsqshError(.internalError, "invalid block size \(options.blockSize)")
        }
        try check(sqfs_super_write(&superBlock, file.handle), "writing the super block", file: file)

        let compressor = try Compressor(options.compression, blockSize: options.blockSize, forReading: false)
        let optionBytes = compressor.writeOptions(to: file)
        if optionBytes < 0 { try check(optionBytes, "writing the compressor options", file: file) }
        if optionBytes > 0 { superBlock.flags |= UInt16(SQFS_FLAG_COMPRESSOR_OPTIONS.rawValue) }

        let data = try DataWriter(tree: tree, file: file, options: options, progress: progress)
        try data.writeData(of: (options.layout ?? DataLayout.automatic(for: tree)).order(tree))

        let ids = try IdTable()
        let tables = try MetadataTables(file: file, compressor: compressor, ids: ids, layouts: data.layouts, keepOwner: options.keepOwner)
        superBlock.inode_table_start = file.size
        superBlock.root_inode_ref = try tables.writeInodes(of: tree.root)
        superBlock.directory_table_start = file.size
        try tables.writeDirectoryTable()
        try data.fragmentTable.write(to: file, super: &superBlock, compressor: compressor)
        // Only files smaller than a block use fragments (libsquashfs assumes all do).
        superBlock.flags &= ~UInt16(SQFS_FLAG_ALWAYS_FRAGMENTS.rawValue)
        try ids.write(to: file, super: &superBlock, compressor: compressor)

        superBlock.inode_count = tables.inodeCount
        superBlock.bytes_used = file.size
        try check(sqfs_super_write(&superBlock, file.handle), "writing the super block", file: file)
        try padToDeviceBlock(file)
        return ImageSummary(entries: tree.entryCount, inputBytes: tree.regularFileBytes, imageBytes: file.size)
    }

    /// Loop devices and mksquashfs want the image a multiple of 4 KiB.
    private static func padToDeviceBlock(_ file: SquashFSFile) throws {
        let remainder = Int(file.size % 4096)
        guard remainder != 0 else { return }
        let zeros = [UInt8](repeating: 0, count: 4096 - remainder)
        try zeros.withUnsafeBytes { bytes in
            try check(file.write(at: file.size, bytes), "padding the image", file: file)
        }
    }
}
