import Glibc
import GraftFoundation

/// A new zip archive of stored (uncompressed) members, as Keras writes its
/// `.keras` files: members are added in order, `close()` writes the central
/// directory and reports a failure to flush. Members and the archive stay
/// under 4 GiB (no ZIP64), which a ResNet152's weights are far from.
public final class ZipWriter {
    public let path: String
    private var descriptor: Int32
    private var offset = 0
    private var entries: [(name: [UInt8], crc: UInt32, size: Int, headerOffset: Int)] = []

    /// Creates `path`, which must not exist (callers write to a fresh
    /// temporary name and rename it into place).
    public init(creating path: String) throws {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw GraftError.io("cannot create \(path): \(systemErrorText(errno))") }
    }

    deinit { if descriptor >= 0 { Glibc.close(descriptor) } }

    /// Adds a member holding `bytes`.
    public func add(_ name: String, bytes: [UInt8]) throws {
        let crc = ZipArchive.crc32(bytes)
        try writeHeader(name, crc: crc, size: bytes.count)
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Adds a member holding the contents of the file at `source`, copied in
    /// blocks; its header is completed once the CRC-32 is known.
    public func add(_ name: String, contentsOf source: String) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw GraftError.io("cannot open \(source): \(systemErrorText(errno))") }
        defer { Glibc.close(input) }
        let headerOffset = offset
        try writeHeader(name, crc: 0, size: 0)
        var crc: UInt32 = 0, size = 0
        let block = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { block.deallocate() }
        while true {
            let n = read(input, block.baseAddress, block.count)
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw GraftError.io("cannot read \(source): \(systemErrorText(errno))") }
            if n == 0 { break }
            let chunk = UnsafeRawBufferPointer(rebasing: block[0..<n])
            crc = ZipArchive.crc32(chunk, continuing: crc)
            try write(chunk)
            size += n
        }
        entries.removeLast()
        let saved = offset
        offset = headerOffset
        try writeHeader(name, crc: crc, size: size)
        offset = saved
    }

    /// Writes the central directory and closes the file.
    public func close() throws {
        let directoryOffset = offset
        for entry in entries {
            var record = ZipRecord(signature: 0x0201_4B50)
            // Made by Unix (3), version 2.0; readable by 2.0.
            record.append16(0x0314); record.append16(20)
            record.appendCommonFields(crc: entry.crc, size: entry.size, nameLength: entry.name.count)
            record.append16(0); record.append16(0); record.append16(0)  // comment, disk, internal attributes
            record.append32(0o100644 << 16)  // external: a regular file, rw-r--r--
            record.append32(UInt32(entry.headerOffset))
            record.bytes += entry.name
            try record.bytes.withUnsafeBytes { try write($0) }
        }
        let directorySize = offset - directoryOffset
        guard offset <= Int(UInt32.max), entries.count < 0xFFFF else {
            throw GraftError.invalidArgument("\(path): the archive would pass 4 GiB, which this writer does not reach")
        }
        var end = ZipRecord(signature: 0x0605_4B50)
        end.append16(0); end.append16(0)
        end.append16(UInt16(entries.count)); end.append16(UInt16(entries.count))
        end.append32(UInt32(directorySize)); end.append32(UInt32(directoryOffset))
        end.append16(0)
        try end.bytes.withUnsafeBytes { try write($0) }
        let flushed = fsync(descriptor) == 0
        let closed = Glibc.close(descriptor) == 0
        descriptor = -1
        guard flushed && closed else { throw GraftError.io("cannot finish writing \(path) (is the disk full?)") }
    }

    private func writeHeader(_ name: String, crc: UInt32, size: Int) throws {
        guard size <= Int(UInt32.max) - 1, offset <= Int(UInt32.max) - 1 else {
            throw GraftError.invalidArgument("\(path): the archive would pass 4 GiB, which this writer does not reach")
        }
        let nameBytes = Array(name.utf8)
        entries.append((nameBytes, crc, size, offset))
        var record = ZipRecord(signature: 0x0403_4B50)
        record.append16(20)
        record.appendCommonFields(crc: crc, size: size, nameLength: nameBytes.count)
        record.bytes += nameBytes
        try record.bytes.withUnsafeBytes { try write($0) }
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw GraftError.io("cannot write \(path): \(systemErrorText(errno))") }
            done += n
        }
        offset += bytes.count
    }
}

/// One little-endian zip record being assembled.
private struct ZipRecord {
    var bytes: [UInt8] = []

    init(signature: UInt32) { append32(signature) }

    mutating func append16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func append32(_ v: UInt32) { append16(UInt16(v & 0xFFFF)); append16(UInt16(v >> 16)) }

    /// Flags, method (stored), time and date (1980-01-01, as Keras's
    /// small members), CRC-32, both sizes, name length and extra length (0).
    mutating func appendCommonFields(crc: UInt32, size: Int, nameLength: Int) {
        append16(0); append16(0); append16(0); append16(0x21)
        append32(crc); append32(UInt32(size)); append32(UInt32(size))
        append16(UInt16(nameLength)); append16(0)
    }
}
