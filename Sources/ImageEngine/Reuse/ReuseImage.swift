import CSquashFS
import Glibc
import SquashFSFormat
import SystemPackage
import SystemSupport

/// A block stored in an earlier image: which image, where, and its size
/// word (how many bytes it takes there and whether they are compressed).
struct StoredBlock {
    let image: Int
    let location: UInt64
    let sizeWord: UInt32

    var storedBytes: Int { BlockSizeWord.storedBytes(sizeWord) }
    var isCompressed: Bool { BlockSizeWord.isCompressed(sizeWord) }
}

/// An earlier image opened for `squash --reuse`: where each of its files'
/// blocks and tails lie, by path, so the new image's writer can say which
/// stored block probably holds the bytes of the block it is about to
/// compress. "Probably": the worker confirms every candidate before it
/// copies it (`BlockReuse`, `ReuseConfirmation`), so nothing here needs to
/// be right for the new image to be.
final class ReuseImage {
    /// Why an image is not used at all: it is not a readable squashfs image,
    /// or was written with other settings, so its blocks cannot be the
    /// bytes this squash would write.
    struct Refusal: Error, CustomStringConvertible {
        let description: String
    }

    private struct StoredFile {
        let fragment: (index: UInt32, offset: UInt32)?
        let blocksStart: UInt64
        let blockSizeWords: [UInt32]
    }

    private struct NameAndSize: Hashable {
        let name: [UInt8]
        let size: UInt64
    }

    let path: FilePath
    let number: Int
    let descriptor: FileDescriptor
    let superBlock: sqfs_super_t
    let compression: Compression
    private let files: [[UInt8]: StoredFile]
    /// Fragment blocks by the name and size of the file whose tail opens
    /// them, where only one does: finds the blocks of a renamed directory.
    private let fragmentsOpenedBy: [NameAndSize: UInt32]
    private let fragments: [sqfs_fragment_t]

    /// Opens `path` as image number `number` of the reuse list. `settings`
    /// are the bytes the new image holds after its super block (the
    /// compressor's options): an image with other options, another
    /// compressor or block size could not supply the new image's bytes.
    init(_ path: FilePath, number: Int, options: SquashOptions, settings: [UInt8]) throws(Refusal) {
        self.path = path
        self.number = number
        do {
            descriptor = try FileDescriptor.open(path, .readOnly, options: [.closeOnExec])
        } catch {
            throw Refusal(description: "cannot open it: \(error)")
        }
        let reader: ImageReader
        do {
            reader = try ImageReader(descriptor: descriptor, path: path)
        } catch {
            try? descriptor.close()
            throw Refusal(description: (error as? KsqshError)?.message ?? "\(error)")
        }
        superBlock = reader.superBlock
        compression = reader.compression
        fragments = reader.fragments
        do {
            try Self.requireSameSettings(reader, options: options, settings: settings)
        } catch {
            try? descriptor.close()
            throw error
        }

        var files: [[UInt8]: StoredFile] = [:]
        var openers: [NameAndSize: UInt32?] = [:]
        Self.forEachRegularFile(below: ImageEntry(node: reader.root), path: []) { path, entry in
            let fragment = entry.fragmentLocation
            files[path] = StoredFile(fragment: fragment, blocksStart: entry.dataPosition.blocks, blockSizeWords: entry.blockSizeWords)
            if let fragment, fragment.offset == 0 {
                let key = NameAndSize(name: entry.name, size: entry.fileSize)
                openers[key] = openers[key] == nil ? fragment.index : .some(nil)
            }
        }
        self.files = files
        fragmentsOpenedBy = openers.compactMapValues { $0 }
    }

    deinit { try? descriptor.close() }

    /// The stored block that may hold block `index` of the file at `path`.
    func block(_ index: Int, ofFileAt path: [UInt8]) -> StoredBlock? {
        guard let file = files[path], index < file.blockSizeWords.count, file.blockSizeWords[index] != 0 else { return nil }
        let before = file.blockSizeWords[..<index].reduce(0) { $0 + UInt64(BlockSizeWord.storedBytes($1)) }
        return StoredBlock(image: number, location: file.blocksStart + before, sizeWord: file.blockSizeWords[index])
    }

    /// The fragment block that may equal a new one whose first tail is that
    /// of the file at `path` (named `name`, `size` bytes): the block that
    /// file's tail opened here, else the one a file of that name and size
    /// opened, if only one did.
    func fragmentBlock(openedBy path: [UInt8], name: [UInt8], size: UInt64) -> StoredBlock? {
        let index: UInt32?
        if let fragment = files[path]?.fragment {
            index = fragment.offset == 0 ? fragment.index : nil
        } else {
            index = fragmentsOpenedBy[NameAndSize(name: name, size: size)]
        }
        guard let index, Int(index) < fragments.count else { return nil }
        let entry = fragments[Int(index)]
        return StoredBlock(image: number, location: entry.start_offset, sizeWord: entry.size)
    }

    private static func requireSameSettings(_ reader: ImageReader, options: SquashOptions, settings: [UInt8]) throws(Refusal) {
        guard reader.compression == options.compression else {
            throw Refusal(description: "it is compressed with \(reader.compression.rawValue), this image with \(options.compression.rawValue)")
        }
        guard Int(reader.superBlock.block_size) == options.blockSize else {
            throw Refusal(description: "its block size is \(reader.superBlock.block_size), this image's \(options.blockSize)")
        }
        let hasOptions = reader.superBlock.flags & UInt16(SQFS_FLAG_COMPRESSOR_OPTIONS.rawValue) != 0
        var stored = [UInt8](repeating: 0, count: settings.count)
        let read = stored.withUnsafeMutableBytes { (try? reader.descriptor.read(fromAbsoluteOffset: Int64(ImageLayout.superBlockSize), into: $0)) ?? -1 }
        guard hasOptions == !settings.isEmpty, read == settings.count, stored == settings else {
            throw Refusal(description: "its \(options.compression.rawValue) options differ from this image's")
        }
    }

    private static func forEachRegularFile(below directory: ImageEntry, path: [UInt8], _ body: ([UInt8], ImageEntry) -> Void) {
        for child in directory.children {
            let childPath = path.isEmpty ? child.name : path + [UInt8(ascii: "/")] + child.name
            switch child.kind {
            case .directory: forEachRegularFile(below: child, path: childPath, body)
            case .regular: body(childPath, child)
            default: break
            }
        }
    }
}
