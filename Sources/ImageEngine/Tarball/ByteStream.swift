import Glibc
import SystemPackage
import SystemSupport

/// A stream of bytes read front to back: a tarball as it is decompressed.
protocol ByteStream: AnyObject {
    /// Reads up to `buffer.count` bytes; returns 0 only at the end of the stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
    /// How many bytes of the file on disk have been consumed (for progress).
    var fileBytesRead: UInt64 { get }
}

/// The compressed bytes of a tarball file, read in large chunks.
final class FileInput {
    let path: FilePath
    private let descriptor: FileDescriptor
    let buffer: UnsafeMutableRawBufferPointer
    /// The unconsumed part of `buffer` is `buffer[start..<end]`.
    var start = 0
    var end = 0
    private(set) var isAtEnd = false
    private(set) var bytesRead: UInt64 = 0

    init(_ descriptor: FileDescriptor, path: FilePath, chunk: Int = 1 << 18) {
        self.descriptor = descriptor
        self.path = path
        buffer = .allocate(byteCount: chunk, alignment: 64)
    }

    deinit { buffer.deallocate() }

    var available: Int { end - start }
    var unconsumed: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: buffer[start..<end]) }

    /// Refills the buffer once everything in it was consumed; false at the end of the file.
    @discardableResult
    func refillIfEmpty() throws -> Bool {
        guard available == 0 else { return true }
        guard !isAtEnd else { return false }
        let count: Int
        do {
            count = try descriptor.read(into: buffer, retryOnInterrupt: true)
        } catch let errno as Errno {
            throw KsqshError(.sourceUnreadable, path: path, "reading the tarball failed", errno: errno)
        }
        start = 0
        end = count
        bytesRead += UInt64(count)
        if count == 0 { isAtEnd = true }
        return count > 0
    }
}

/// A tarball that is not compressed.
final class PlainStream: ByteStream {
    private let input: FileInput

    init(_ input: FileInput) { self.input = input }

    var fileBytesRead: UInt64 { input.bytesRead }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard try input.refillIfEmpty() else { return 0 }
        let count = min(buffer.count, input.available)
        buffer.baseAddress!.copyMemory(from: input.unconsumed.baseAddress!, byteCount: count)
        input.start += count
        return count
    }
}

/// Opens a tarball and picks its decompressor by the file's first bytes,
/// not by its name.
enum TarballStream {
    static func open(_ descriptor: FileDescriptor, path: FilePath) throws -> ByteStream {
        let input = FileInput(descriptor, path: path)
        try input.refillIfEmpty()
        let head = Array(input.unconsumed.prefix(6))
        func starts(with magic: [UInt8]) -> Bool { head.starts(with: magic) }
        if starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return try XZStream(input) }
        if starts(with: [0x1F, 0x8B]) { return try GzipStream(input) }
        if starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return try ZstdStream(input) }
        if starts(with: Array("BZh".utf8)) {
            throw KsqshError(.tarballMalformed, path: path, "bzip2 tarballs are not supported; recompress it with xz, gzip or zstd, or unpack it and squash the directory")
        }
        // Not compressed and not tar either: most likely a file given where a
        // directory was meant. A name ending in .tar still gets the tar
        // reader's own, more precise complaint.
        let looksLikeTar = input.available >= TarHeader.size
            && (try? TarHeader.decode(UnsafeRawBufferPointer(rebasing: input.unconsumed.prefix(TarHeader.size)))) != nil
        if !looksLikeTar && !(path.lastComponent?.string.hasSuffix(".tar") ?? false) {
            throw KsqshError(.sourceNotDirectory, path: path, "is neither a directory nor a tarball (.tar, .tar.xz, .tar.gz, .tar.zst)")
        }
        return PlainStream(input)
    }

    /// The one error for a compressed stream that cannot be decoded.
    static func corrupt(_ path: FilePath, _ format: String, _ detail: String) -> KsqshError {
        KsqshError(.tarballMalformed, path: path, "the \(format) data is corrupt or truncated (\(detail)); fetch the tarball again")
    }
}
