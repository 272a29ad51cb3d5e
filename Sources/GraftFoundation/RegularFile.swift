import Glibc

/// The text of errno value `code` ("No such file or directory").
public func systemErrorText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "error \(code)" }
    return String(cString: text)
}

/// What kind of file a stat mode describes, for messages ("a FIFO").
public func fileKindName(_ mode: mode_t) -> String {
    switch mode & S_IFMT {
    case S_IFREG: return "a regular file"
    case S_IFDIR: return "a directory"
    case S_IFIFO: return "a FIFO"
    case S_IFCHR: return "a character device"
    case S_IFBLK: return "a block device"
    case S_IFSOCK: return "a socket"
    case S_IFLNK: return "a symbolic link"
    default: return "a special file"
    }
}

/// The bytes of the regular file at `path` (symbolic links followed), read
/// with plain system calls. Anything else (a FIFO, a device such as
/// /dev/zero, a socket, a directory) is refused before a byte is read — it
/// could block for ever or never end — and so is a file larger than
/// `maxBytes`, before it is read. A file that shrinks while it is read gives
/// what it still holds; one that grows is read to its size at open.
///
/// Errors: `.io` for a file that cannot be opened or read or is not a regular
/// file; `.format` for one over `maxBytes` (`tooLarge` words the reason).
public func readRegularFile(_ path: String, maxBytes: Int, tooLarge: (Int) -> String) throws -> [UInt8] {
    // O_NONBLOCK: opening a FIFO without a writer would otherwise wait for one.
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else {
        let code = errno
        throw GraftError.io("\(path): cannot open: \(systemErrorText(code))")
    }
    defer { close(fd) }
    var status = stat()
    guard fstat(fd, &status) == 0 else {
        let code = errno
        throw GraftError.io("\(path): cannot read: \(systemErrorText(code))")
    }
    guard (status.st_mode & S_IFMT) == S_IFREG else {
        throw GraftError.io("\(path): is \(fileKindName(status.st_mode)), not a regular file")
    }
    let size = Int(status.st_size)
    guard size <= maxBytes else { throw GraftError.format("\(path): \(tooLarge(size))") }

    var bytes = [UInt8](repeating: 0, count: size)
    var filled = 0
    while filled < size {
        let (got, error) = bytes.withUnsafeMutableBytes { buffer -> (Int, Int32) in
            guard let base = buffer.baseAddress else { return (0, 0) }
            let got = read(fd, base + filled, size - filled)
            return (got, got < 0 ? errno : 0)
        }
        if got > 0 { filled += got; continue }
        if got == 0 { break }
        if error == EINTR { continue }
        throw GraftError.io("\(path): cannot read: \(systemErrorText(error))")
    }
    bytes.removeSubrange(filled...)
    return bytes
}
