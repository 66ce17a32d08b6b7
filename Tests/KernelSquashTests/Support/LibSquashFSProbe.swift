import CSquashFS

/// Asks libsquashfs itself — not ksqsh — which compressors it can create.
///
/// `gensquashfs --help` is no oracle: squashfs-tools-ng links LZO into its
/// tools only, so gensquashfs lists lzo while libsquashfs 1.2 refuses it.
enum LibSquashFSProbe {
    static let compressorIDs: [String: SQFS_COMPRESSOR] = [
        "gzip": SQFS_COMP_GZIP, "lzma": SQFS_COMP_LZMA, "lzo": SQFS_COMP_LZO,
        "xz": SQFS_COMP_XZ, "lz4": SQFS_COMP_LZ4, "zstd": SQFS_COMP_ZSTD,
    ]

    /// Whether `sqfs_compressor_create` succeeds for `name` with 128 KiB blocks.
    static func canCompress(_ name: String) -> Bool {
        guard let id = compressorIDs[name] else { return false }
        var config = sqfs_compressor_config_t()
        guard sqfs_compressor_config_init(&config, id, 131_072, 0) == 0 else { return false }
        var compressor: UnsafeMutablePointer<sqfs_compressor_t>?
        guard sqfs_compressor_create(&config, &compressor) == 0, let compressor else { return false }
        sqfs_destroy(compressor)
        return true
    }
}
