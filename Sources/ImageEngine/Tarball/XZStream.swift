import CLZMA
import SystemSupport

/// An xz (or concatenated xz) stream decoded with liblzma.
final class XZStream: ByteStream {
    private let input: FileInput
    private var stream = lzma_stream()
    private var finished = false

    init(_ input: FileInput) throws {
        self.input = input
        // No memory limit: the dictionary is whatever the tarball's creator chose.
        let status = lzma_stream_decoder(&stream, UInt64.max, ksqsh_lzma_concatenated)
        guard status == LZMA_OK else {
            throw KsqshError(.internalError, path: input.path, "cannot start the xz decoder (liblzma status \(status.rawValue))")
        }
    }

    deinit { lzma_end(&stream) }

    var fileBytesRead: UInt64 { input.bytesRead }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !finished, buffer.count > 0 else { return 0 }
        stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        stream.avail_out = buffer.count
        while stream.avail_out == buffer.count {
            let more = try input.refillIfEmpty()
            stream.next_in = input.unconsumed.baseAddress?.assumingMemoryBound(to: UInt8.self)
            stream.avail_in = input.available
            let status = lzma_code(&stream, more ? LZMA_RUN : LZMA_FINISH)
            input.start = input.end - stream.avail_in
            if status == LZMA_STREAM_END {
                finished = true
                break
            }
            guard status == LZMA_OK else {
                throw TarballStream.corrupt(input.path, "xz", XZStream.describe(status))
            }
        }
        return buffer.count - stream.avail_out
    }

    private static func describe(_ status: lzma_ret) -> String {
        switch status {
        case LZMA_DATA_ERROR: "data error"
        case LZMA_FORMAT_ERROR: "not xz"
        case LZMA_BUF_ERROR: "unexpected end"
        case LZMA_MEM_ERROR: "out of memory"
        case LZMA_OPTIONS_ERROR: "unsupported options"
        default: "liblzma status \(status.rawValue)"
        }
    }
}
