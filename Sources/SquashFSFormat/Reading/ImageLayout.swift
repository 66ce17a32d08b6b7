import CSquashFS
import SystemPackage
import SystemSupport

/// Where each part of an image lies, derived from the super block and proven
/// consistent before any table is decoded: every table inside the image, in
/// one gapless run that ends exactly at `bytes_used`, every lookup table
/// pointing at exactly the metadata blocks that follow each other, and the
/// flags agreeing with what is there.
///
/// libsquashfs checks little of this itself, and trusts the counts: a
/// damaged fragment count makes it allocate up to 64 GiB before reading a
/// byte. Checked first, a damaged super block is reported as such, and no
/// later read is sized by a number the layout has not confirmed.
package struct ImageLayout {
    package static let superBlockSize: UInt64 = 96
    package static let metadataBlockSize: UInt64 = 8192
    /// Where a table is absent.
    package static let absent = UInt64.max
    package static let knownFlags: UInt16 = 0x0fff

    /// The data blocks: after the super block and compressor options, up to the inode table.
    package let dataRegion: Range<UInt64>

    package init(_ superBlock: sqfs_super_t, file: SquashFSFile, path: FilePath) throws {
        let reader = LayoutReader(file: file, path: path, bytesUsed: superBlock.bytes_used)
        let flags = superBlock.flags
        func corrupt(_ message: String) -> KsqshError { KsqshError(.imageCorrupt, path: path, message) }
        func has(_ flag: SQFS_SUPER_FLAGS) -> Bool { flags & UInt16(flag.rawValue) != 0 }

        if flags & ~Self.knownFlags != 0 {
            throw corrupt("super block has unknown flags 0x\(String(flags, radix: 16))")
        }
        let fragments = superBlock.fragment_entry_count
        if has(SQFS_FLAG_NO_FRAGMENTS), fragments != 0 {
            throw corrupt("super block says there are no fragments, yet counts \(fragments)")
        }
        if has(SQFS_FLAG_EXPORTABLE) != (superBlock.export_table_start != Self.absent) {
            throw corrupt("super block's exportable flag disagrees with its export table start \(superBlock.export_table_start)")
        }
        let hasXattrs = superBlock.xattr_id_table_start != Self.absent
        if has(SQFS_FLAG_NO_XATTRS), hasXattrs {
            throw corrupt("super block says there are no extended attributes, yet has an xattr table at \(superBlock.xattr_id_table_start)")
        }

        var dataStart = Self.superBlockSize
        if has(SQFS_FLAG_COMPRESSOR_OPTIONS) {
            let header = try reader.header(at: dataStart, "compressor options")
            dataStart += 2 + header.size
        }
        guard dataStart <= superBlock.inode_table_start else {
            throw corrupt("inode table start \(superBlock.inode_table_start) lies inside the super block or compressor options")
        }
        dataRegion = dataStart..<superBlock.inode_table_start

        var tables = [
            ImageTable(name: "inode table", start: superBlock.inode_table_start, kind: .chain(blocks: nil, uncompressed: has(SQFS_FLAG_UNCOMPRESSED_INODES))),
            ImageTable(name: "directory table", start: superBlock.directory_table_start, kind: .chain(blocks: nil, uncompressed: false)),
        ]
        try tables += reader.indexedTable(
            "id table", lookupAt: superBlock.id_table_start, entries: UInt64(superBlock.id_count), entrySize: 4,
            uncompressed: has(SQFS_FLAG_UNCOMPRESSED_IDS))
        if fragments != 0 || superBlock.fragment_table_start != Self.absent {
            try tables += reader.indexedTable(
                "fragment table", lookupAt: superBlock.fragment_table_start, entries: UInt64(fragments), entrySize: 16, uncompressed: false)
        }
        if superBlock.export_table_start != Self.absent {
            try tables += reader.indexedTable(
                "export table", lookupAt: superBlock.export_table_start, entries: UInt64(superBlock.inode_count), entrySize: 8, uncompressed: false)
        }
        // ksqsh writes no extended attributes; in another writer's image their
        // table is only bounds-checked, so nothing can be said about gaps.
        if hasXattrs {
            guard superBlock.xattr_id_table_start < superBlock.bytes_used else {
                throw corrupt("xattr table start \(superBlock.xattr_id_table_start) lies past the image end \(superBlock.bytes_used)")
            }
            for table in tables where table.start >= superBlock.bytes_used {
                throw corrupt("\(table.name) start \(table.start) lies past the image end \(superBlock.bytes_used)")
            }
            return
        }

        // Everything after the data, in order, without gaps, up to bytes_used.
        tables.sort { $0.start < $1.start }
        for (index, table) in tables.enumerated() {
            let end = index + 1 < tables.count ? tables[index + 1].start : superBlock.bytes_used
            try reader.requireExtent(table, endingAt: end)
        }
    }
}

/// One table after the data: a lookup array of fixed size, or a run of metadata blocks.
package struct ImageTable {
    package enum Kind {
        case lookup(bytes: UInt64)
        /// `blocks`: how many, where the table's entry count fixes it.
        case chain(blocks: UInt64?, uncompressed: Bool)
    }

    package let name: String
    package let start: UInt64
    package let kind: Kind
}

/// Raw reads for the layout check: metadata block headers and lookup arrays.
private struct LayoutReader {
    let file: SquashFSFile
    let path: FilePath
    let bytesUsed: UInt64

    func corrupt(_ message: String) -> KsqshError { KsqshError(.imageCorrupt, path: path, message) }

    /// A metadata block header: stored size (1…8192) and whether it is compressed.
    func header(at offset: UInt64, _ what: String) throws -> (size: UInt64, compressed: Bool) {
        guard offset <= bytesUsed, bytesUsed - offset >= 2 else {
            throw corrupt("\(what): metadata block header at \(offset) lies past the image end \(bytesUsed)")
        }
        var raw: UInt16 = 0
        try withUnsafeMutableBytes(of: &raw) { try read(at: offset, into: $0, what) }
        let value = UInt16(littleEndian: raw)
        let size = UInt64(value & 0x7fff)
        guard size >= 1, size <= ImageLayout.metadataBlockSize else {
            throw corrupt("\(what): metadata block at \(offset) claims \(size) bytes (1–8192 allowed)")
        }
        return (size, value & 0x8000 == 0)
    }

    /// A table found through a lookup array of block positions at `lookupAt`:
    /// the lookup array and, when there are entries, the metadata blocks it
    /// points to, which must be the blocks that follow each other from the first.
    func indexedTable(_ name: String, lookupAt: UInt64, entries: UInt64, entrySize: UInt64, uncompressed: Bool) throws -> [ImageTable] {
        let blocks = (entries * entrySize + ImageLayout.metadataBlockSize - 1) / ImageLayout.metadataBlockSize
        guard lookupAt < bytesUsed, blocks * 8 <= bytesUsed - lookupAt else {
            throw corrupt("\(name): its \(blocks)-entry lookup table at \(lookupAt) does not fit before the image end \(bytesUsed)")
        }
        let lookup = ImageTable(name: "\(name) lookup", start: lookupAt, kind: .lookup(bytes: blocks * 8))
        guard blocks > 0 else { return [lookup] }
        var positions = [UInt64](repeating: 0, count: Int(blocks))
        try positions.withUnsafeMutableBytes { try read(at: lookupAt, into: $0, "\(name) lookup") }
        positions = positions.map { UInt64(littleEndian: $0) }
        var position = positions[0]
        for (index, expected) in positions.enumerated() {
            guard expected == position else {
                throw corrupt("\(name): lookup entry \(index) points to \(expected), but its block \(index) starts at \(position)")
            }
            position += 2 + (try header(at: position, name).size)
        }
        return [ImageTable(name: name, start: positions[0], kind: .chain(blocks: blocks, uncompressed: uncompressed)), lookup]
    }

    /// Proves `table` occupies exactly `start..<end`.
    func requireExtent(_ table: ImageTable, endingAt end: UInt64) throws {
        guard table.start <= end else {
            throw corrupt("\(table.name) starts at \(table.start), past where it must end (\(end))")
        }
        switch table.kind {
        case .lookup(let bytes):
            guard table.start + bytes == end else {
                throw corrupt("\(table.name) at \(table.start) holds \(bytes) bytes, but the next part starts at \(end)")
            }
        case .chain(let blocks, let uncompressed):
            var position = table.start
            var count: UInt64 = 0
            while position < end, blocks.map({ count < $0 }) ?? true {
                let header = try header(at: position, table.name)
                if uncompressed, header.compressed {
                    throw corrupt("\(table.name): block at \(position) is compressed, but the super block flags it stored uncompressed")
                }
                position += 2 + header.size
                count += 1
            }
            guard position == end else {
                throw corrupt("\(table.name) from \(table.start) runs to \(position), but the next part starts at \(end)")
            }
        }
    }

    private func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, _ what: String) throws {
        let status = file.read(at: offset, into: buffer)
        guard status == 0 else {
            throw KsqshError(.imageUnreadable, path: path, "\(what): cannot read \(buffer.count) bytes at \(offset): \(SquashFSStatus.describe(status))", errno: file.lastErrno)
        }
    }
}
