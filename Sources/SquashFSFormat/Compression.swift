import CKsqsh
import CSquashFS
import SystemPackage
import SystemSupport

/// The compressors a squashfs image may use, by the names mksquashfs uses.
public enum Compression: String, CaseIterable, Sendable {
    case xz, zstd, lz4, gzip, lzo, lzma

    package var id: SQFS_COMPRESSOR {
        switch self {
        case .gzip: SQFS_COMP_GZIP
        case .lzma: SQFS_COMP_LZMA
        case .lzo: SQFS_COMP_LZO
        case .xz: SQFS_COMP_XZ
        case .lz4: SQFS_COMP_LZ4
        case .zstd: SQFS_COMP_ZSTD
        }
    }

    package init?(id: UInt16) {
        guard let match = Compression.allCases.first(where: { UInt16($0.id.rawValue) == id }) else { return nil }
        self = match
    }

    /// Whether the installed libsquashfs was built with this compressor.
    public var isAvailable: Bool {
        (try? Compressor(self, blockSize: 1 << 17, forReading: true)) != nil
    }
}

/// One libsquashfs compressor (`sqfs_compressor_t`): xz at level 6 with the
/// dictionary as large as a block, like `mksquashfs -comp xz -Xdict-size 100%`.
/// A compressor holds per-stream state: use one per thread.
package final class Compressor {
    package let handle: UnsafeMutablePointer<sqfs_compressor_t>
    package let compression: Compression
    private let decompressing: Bool

    package convenience init(_ compression: Compression, blockSize: Int, forReading: Bool) throws {
        var config = sqfs_compressor_config_t()
        let flags = forReading ? UInt16(SQFS_COMP_FLAG_UNCOMPRESS.rawValue) : 0
        guard sqfs_compressor_config_init(&config, compression.id, blockSize, flags) == 0 else {
            throw KsqshError(.unsupportedCompression, "compression \(compression.rawValue) is not supported by libsquashfs on this system")
        }
        try self.init(config: config, compression: compression)
    }

    /// The decompressor an image's super block names, with the options the
    /// image stores after it.
    package convenience init(reading file: SquashFSFile, superBlock: sqfs_super_t, compression: Compression, path: FilePath) throws {
        var config = sqfs_compressor_config_t()
        guard sqfs_compressor_config_init(&config, compression.id, Int(superBlock.block_size), UInt16(SQFS_COMP_FLAG_UNCOMPRESS.rawValue)) == 0 else {
            throw KsqshError(.imageCorrupt, path: path, "invalid block size \(superBlock.block_size) in the super block")
        }
        try self.init(config: config, compression: compression)
        if superBlock.flags & UInt16(SQFS_FLAG_COMPRESSOR_OPTIONS.rawValue) != 0 {
            try ImageReader.check(handle.pointee.read_options(handle, file.handle), "reading the compressor options", path)
        }
    }

    private init(config: sqfs_compressor_config_t, compression: Compression) throws {
        var config = config
        var created: UnsafeMutablePointer<sqfs_compressor_t>?
        let status = sqfs_compressor_create(&config, &created)
        guard status == 0, let created else {
            throw KsqshError(
                .unsupportedCompression,
                "compression \(compression.rawValue) is not supported by libsquashfs on this system (\(SquashFSStatus.describe(status)))"
            )
        }
        // A compressing block that grows must be stored as it is; decompressors are used as they are.
        decompressing = config.flags & UInt16(SQFS_COMP_FLAG_UNCOMPRESS.rawValue) != 0
        if decompressing {
            handle = created
        } else if let wrapped = ksqsh_compressor_never_grow(created) {
            handle = wrapped
        } else {
            sqfs_destroy(created)
            throw KsqshError(.internalError, "out of memory creating a compressor")
        }
        self.compression = compression
    }

    deinit { sqfs_destroy(handle) }

    /// Runs `body` with every block this (compressing) compressor sees
    /// stored uncompressed.
    package func storingRaw<Result>(_ body: () throws -> Result) rethrows -> Result {
        precondition(!decompressing, "a decompressor has no raw mode")
        ksqsh_compressor_store_raw(handle, 1)
        defer { ksqsh_compressor_store_raw(handle, 0) }
        return try body()
    }

    /// Compresses or (for a reading compressor) decompresses `input` into
    /// `output`. Returns the bytes produced, 0 when compressing would not make
    /// the block smaller, or a negative libsquashfs error.
    package func process(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) -> Int32 {
        handle.pointee.do_block(
            handle,
            input.baseAddress?.assumingMemoryBound(to: UInt8.self),
            UInt32(input.count),
            output.baseAddress?.assumingMemoryBound(to: UInt8.self),
            UInt32(output.count)
        )
    }

    /// Writes the compressor's options after the super block; returns the
    /// bytes written (0 when the options are the defaults).
    package func writeOptions(to file: SquashFSFile) -> Int32 {
        handle.pointee.write_options(handle, file.handle)
    }
}
