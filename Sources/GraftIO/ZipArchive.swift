import CZlib
import Glibc
import GraftFoundation

/// A zip archive read member by member: what a Keras 3 `.keras` file is
/// (`config.json`, `metadata.json`, `model.weights.h5`). Members stored or
/// deflated, ZIP64 sizes and offsets read; every size is checked against
/// the file's before anything is allocated, every member's CRC-32 verified.
public struct ZipArchive {
    public let path: String
    /// The members by name, in the central directory's order.
    public let members: [Member]
    private let fileSize: Int

    public struct Member {
        public let name: String
        let method: UInt16
        let crc: UInt32
        let compressedSize: Int
        public let size: Int
        let headerOffset: Int
    }

    public init(readingFrom path: String) throws {
        self.path = path
        guard access(path, F_OK) == 0 else { throw GraftError.io("model file not found: \(path)") }
        guard let size = regularFileSize(path) else { throw GraftError.io("not a readable regular file: \(path)") }
        fileSize = size
        let file = try ReadOnlyFile(path)
        // The end-of-central-directory record: 22 bytes and a comment of up to 64 KiB.
        let tailSize = min(size, 22 + 0xFFFF)
        let tail = try file.bytes(at: size - tailSize, count: tailSize)
        guard let end = stride(from: tail.count - 22, through: 0, by: -1).first(where: { tail.uint32($0) == 0x0605_4B50 }) else {
            throw GraftError.format("\(path) is not a zip archive (a .keras file is one)")
        }
        var count = Int(tail.uint16(end + 10))
        var directorySize = Int(tail.uint32(end + 12)), directoryOffset = Int(tail.uint32(end + 16))
        if end >= 20, tail.uint32(end - 20) == 0x0706_4B50 {
            // ZIP64: its end record holds the real count, size and offset.
            let record = try file.bytes(at: try Self.offset(tail.uint64(end - 12), within: size, path), count: 56)
            guard record.uint32(0) == 0x0606_4B50 else { throw GraftError.format("\(path): corrupt ZIP64 end record") }
            count = try Self.offset(record.uint64(32), within: size, path)
            directorySize = try Self.offset(record.uint64(40), within: size, path)
            directoryOffset = try Self.offset(record.uint64(48), within: size, path)
        }
        guard directoryOffset <= size, directorySize <= size - directoryOffset, count <= directorySize / 46 else {
            throw GraftError.format("\(path): the zip central directory lies outside the file (truncated?)")
        }
        let directory = try file.bytes(at: directoryOffset, count: directorySize)
        var members: [Member] = [], at = 0
        for _ in 0..<count {
            guard at + 46 <= directory.count, directory.uint32(at) == 0x0201_4B50 else {
                throw GraftError.format("\(path): corrupt zip central directory")
            }
            let nameLength = Int(directory.uint16(at + 28)), extraLength = Int(directory.uint16(at + 30))
            let commentLength = Int(directory.uint16(at + 32))
            guard at + 46 + nameLength + extraLength + commentLength <= directory.count else {
                throw GraftError.format("\(path): corrupt zip central directory")
            }
            var compressed = UInt64(directory.uint32(at + 20)), uncompressed = UInt64(directory.uint32(at + 24))
            var offset = UInt64(directory.uint32(at + 42))
            // ZIP64's extra field holds, in this order, the fields set to 0xFFFFFFFF.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = directory.uint16(extra), length = Int(directory.uint16(extra + 2))
                if id == 1 {
                    var field = extra + 4
                    if uncompressed == 0xFFFF_FFFF, field + 8 <= extraEnd { uncompressed = directory.uint64(field); field += 8 }
                    if compressed == 0xFFFF_FFFF, field + 8 <= extraEnd { compressed = directory.uint64(field); field += 8 }
                    if offset == 0xFFFF_FFFF, field + 8 <= extraEnd { offset = directory.uint64(field) }
                }
                extra += 4 + length
            }
            members.append(Member(
                name: String(decoding: directory[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self),
                method: directory.uint16(at + 10), crc: directory.uint32(at + 16),
                compressedSize: try Self.offset(compressed, within: size, path),
                size: try Self.offset(uncompressed, within: Int.max, path),
                headerOffset: try Self.offset(offset, within: size, path)))
            at += 46 + nameLength + extraLength + commentLength
        }
        self.members = members
    }

    private static func offset(_ value: UInt64, within limit: Int, _ path: String) throws -> Int {
        guard let v = Int(exactly: value), v <= limit else {
            throw GraftError.format("\(path): a zip size or offset lies outside the file (corrupt)")
        }
        return v
    }

    public func member(named name: String) -> Member? { members.first { $0.name == name } }

    /// The bytes of member `name`, refused when it would be larger than
    /// `limit` bytes; its CRC-32 is checked.
    public func contents(of name: String, limit: Int) throws -> [UInt8] {
        guard let member = member(named: name) else { throw GraftError.format("\(path) holds no \(name)") }
        guard member.size <= limit else {
            throw GraftError.format("\(path): \(name) is \(member.size) bytes, more than the \(limit) this reader takes")
        }
        let file = try ReadOnlyFile(path)
        let header = try file.bytes(at: member.headerOffset, count: 30)
        guard header.uint32(0) == 0x0403_4B50 else { throw GraftError.format("\(path): corrupt zip member \(name)") }
        let start = member.headerOffset + 30 + Int(header.uint16(26)) + Int(header.uint16(28))
        guard start <= fileSize, member.compressedSize <= fileSize - start else {
            throw GraftError.format("\(path): zip member \(name) runs past the end of the file (truncated?)")
        }
        let stored = try file.bytes(at: start, count: member.compressedSize)
        var bytes: [UInt8]
        switch member.method {
        case 0:
            guard stored.count == member.size else { throw GraftError.format("\(path): corrupt zip member \(name)") }
            bytes = stored
        case 8:
            // Deflate expands at most 1032 times: a larger size is a lie, refused before allocating it.
            guard member.size / 1032 <= member.compressedSize + 1 else {
                throw GraftError.format("\(path): zip member \(name) declares \(member.size) bytes, more than its \(member.compressedSize) compressed bytes can hold (corrupt)")
            }
            bytes = try inflated(stored, size: member.size, name)
        default:
            throw GraftError.format("\(path): zip member \(name) is compressed by method \(member.method); Graft reads stored and deflated members")
        }
        guard Self.crc32(bytes) == member.crc else {
            throw GraftError.format("\(path): zip member \(name) fails its CRC-32 check (the file is damaged)")
        }
        return bytes
    }

    private func inflated(_ input: [UInt8], size: Int, _ name: String) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: size)
        var stream = z_stream()
        guard inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw GraftError(.outOfMemory, "zlib cannot start inflating \(name)")
        }
        defer { inflateEnd(&stream) }
        let status: Int32 = input.withUnsafeBufferPointer { source in
            output.withUnsafeMutableBufferPointer { target in
                stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
                stream.avail_in = uInt(source.count)
                stream.next_out = target.baseAddress
                stream.avail_out = uInt(target.count)
                return inflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == size else {
            throw GraftError.format("\(path): zip member \(name) does not inflate to its stated \(size) bytes (corrupt)")
        }
        return output
    }

    static func crc32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
        var crc = uLong(crc), at = 0
        while at < bytes.count {
            let n = min(bytes.count - at, Int(UInt32.max))
            crc = CZlib.crc32(crc, bytes.baseAddress!.advanced(by: at).assumingMemoryBound(to: Bytef.self), uInt(n))
            at += n
        }
        return UInt32(crc)
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc32($0) }
    }
}

/// A file opened for reading at offsets, closed when dropped.
private final class ReadOnlyFile {
    let path: String
    let descriptor: Int32

    init(_ path: String) throws {
        self.path = path
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw GraftError.io("cannot open \(path): \(systemErrorText(errno))") }
    }

    deinit { close(descriptor) }

    func bytes(at offset: Int, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw GraftError.io("cannot read \(path) (truncated?)") }
            done += n
        }
        return bytes
    }
}

extension [UInt8] {
    func uint16(_ at: Int) -> UInt16 { UInt16(self[at]) | UInt16(self[at + 1]) << 8 }
    func uint32(_ at: Int) -> UInt32 { UInt32(uint16(at)) | UInt32(uint16(at + 2)) << 16 }
    func uint64(_ at: Int) -> UInt64 { UInt64(uint32(at)) | UInt64(uint32(at + 4)) << 32 }
}
