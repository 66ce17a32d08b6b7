import CZstd
import SystemSupport

/// A zstd stream (frames concatenated) decoded with libzstd.
final class ZstdStream: ByteStream {
    private let input: FileInput
    private let context: OpaquePointer
    /// 0 once a frame is complete; otherwise more input is needed.
    private var frameRemainder = 0

    init(_ input: FileInput) throws {
        self.input = input
        guard let context = ZSTD_createDStream() else {
            throw KsqshError(.internalError, path: input.path, "cannot start the zstd decoder (out of memory)")
        }
        self.context = context
    }

    deinit { ZSTD_freeDStream(context) }

    var fileBytesRead: UInt64 { input.bytesRead }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard buffer.count > 0 else { return 0 }
        var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: buffer.count, pos: 0)
        while output.pos == 0 {
            guard try input.refillIfEmpty() else {
                if frameRemainder != 0 { throw TarballStream.corrupt(input.path, "zstd", "unexpected end") }
                return 0
            }
            var source = ZSTD_inBuffer(src: input.unconsumed.baseAddress, size: input.available, pos: 0)
            let result = ZSTD_decompressStream(context, &output, &source)
            input.start += source.pos
            if ZSTD_isError(result) != 0 {
                throw TarballStream.corrupt(input.path, "zstd", String(cString: ZSTD_getErrorName(result)))
            }
            frameRemainder = result
        }
        return output.pos
    }
}
