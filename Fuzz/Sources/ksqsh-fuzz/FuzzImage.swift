import Glibc
import ImageEngine
import SystemSupport
import SystemPackage

/// One fuzz input: arbitrary bytes as an image, read as `ksqsh status`,
/// `ksqsh mount` and `ksqsh verify IMAGE` read it (layout, metadata, every
/// byte of every file). Reading may fail only with a KsqshError saying the
/// image is unreadable or damaged; anything else — another error, a crash,
/// a hang, an out-of-memory — is a finding.
func fuzzImage(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let fd = inputFile
    guard ftruncate(fd, 0) == 0 else { fatalError("truncating the input file failed: errno \(errno)") }
    var written = 0
    while written < size {
        let count = pwrite(fd, data + written, size - written, off_t(written))
        guard count > 0 else { fatalError("writing the input file failed: errno \(errno)") }
        written += count
    }
    let image = FilePath("/proc/self/fd/\(fd)")
    expectCleanFailure { try ImageCheck.layout(of: image) }
    expectCleanFailure { try ImageCheck.metadata(of: image) }
    var options = VerifyOptions()
    options.jobs = 1
    expectCleanFailure { _ = try Verifier.verify(image: image, against: nil, options: options) }
    return 0
}

/// One unlinked file in /dev/shm (memory, like a memfd) reused for every
/// input, opened by the readers through /proc/self/fd.
private let inputFile: Int32 = {
    var template = Array("/dev/shm/ksqsh-fuzz-XXXXXX".utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
    guard fd >= 0 else { fatalError("cannot create the input file in /dev/shm: errno \(errno)") }
    template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
    return fd
}()

private func expectCleanFailure(_ body: () throws -> Void) {
    do {
        try body()
    } catch let error as KsqshError {
        switch error.kind {
        case .imageUnreadable, .imageCorrupt, .unsupportedCompression: return
        default: fatalError("reading a damaged image failed with \(error.kind) (exit \(error.exitStatus)): \(error)")
        }
    } catch {
        fatalError("reading a damaged image threw a \(type(of: error)), not a KsqshError: \(error)")
    }
}
