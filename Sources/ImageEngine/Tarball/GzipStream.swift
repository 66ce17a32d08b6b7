import CZlib
import SystemSupport

/// A gzip stream (members concatenated as `cat a.gz b.gz` makes them) decoded with zlib.
final class GzipStream: ByteStream {
    private let input: FileInput
    private var stream = z_stream()
    private var finished = false

    init(_ input: FileInput) throws {
        self.input = input
        // 16 + 15: a gzip header and trailer around a 32 KiB-window deflate stream.
        let status = inflateInit2_(&stream, 16 + 15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard status == Z_OK else {
            throw KsqshError(.internalError, path: input.path, "cannot start the gzip decoder (zlib status \(status))")
        }
    }

    deinit { inflateEnd(&stream) }

    var fileBytesRead: UInt64 { input.bytesRead }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard !finished, buffer.count > 0 else { return 0 }
        stream.next_out = buffer.baseAddress!.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = UInt32(min(buffer.count, Int(UInt32.max)))
        let wanted = stream.avail_out
        while stream.avail_out == wanted {
            guard try input.refillIfEmpty() else {
                throw TarballStream.corrupt(input.path, "gzip", "unexpected end")
            }
            stream.next_in = UnsafeMutablePointer(mutating: input.unconsumed.baseAddress!.assumingMemoryBound(to: Bytef.self))
            stream.avail_in = UInt32(input.available)
            let status = inflate(&stream, Z_NO_FLUSH)
            input.start = input.end - Int(stream.avail_in)
            if status == Z_STREAM_END {
                // Another member may follow; the end of the file ends the stream.
                if try input.refillIfEmpty() {
                    inflateReset(&stream)
                } else {
                    finished = true
                    break
                }
            } else if status != Z_OK && status != Z_BUF_ERROR {
                let message = stream.msg.map { String(cString: $0) } ?? "zlib status \(status)"
                throw TarballStream.corrupt(input.path, "gzip", message)
            }
        }
        return Int(wanted - stream.avail_out)
    }
}
