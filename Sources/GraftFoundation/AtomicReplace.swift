import Glibc

/// Writes a file so that readers and crashes only ever see the old file or
/// the complete new one: `write` fills a temporary file in the same folder,
/// which is flushed to disk, renamed over the target, and the folder flushed
/// so the rename itself survives a crash.
///
/// - The target must be a regular file or not exist. A symbolic link is
///   written through: the file it points to is replaced and the link kept
///   (a dangling link is refused). A FIFO, a device, a socket or a folder is
///   refused untouched: renaming over it would replace it with a plain file.
/// - Temporary files are named `.<name>.<host>.<pid>.<n>.tmp`. Those that a
///   process of this host left behind when it died during a save (kill -9,
///   power loss) are removed by the next save of the same target.
///
/// Errors: `.io` for targets that cannot be replaced, folders that cannot be
/// written, and failures to write, flush or rename; errors from `write` pass
/// through. On any error the target is as it was and the temporary file gone.
public func replaceAtomically(_ path: String, write: (String) throws -> Void) throws {
    let target = try replaceableTarget(path)
    let (folder, name) = splitPath(target)
    removeStaleTemporaries(of: name, in: folder)
    let temporary = folder + "/" + temporaryPrefix(of: name) + "\(getpid()).\(temporaryNames.increment()).tmp"
    do {
        try write(temporary)
        try flush(temporary, what: "the new file")
        guard rename(temporary, target) == 0 else {
            let code = errno
            throw GraftError.io("cannot replace \(path): \(systemErrorText(code))")
        }
    } catch {
        unlink(temporary)
        throw error
    }
    // The new file is in place; a failure to flush its folder is reported
    // (the rename might not survive a crash) but leaves nothing to undo.
    try flush(folder, what: "the folder")
}

/// The file to replace for `path`: itself, or what its symbolic links
/// resolve to; refused when it is not a regular file or its folder cannot
/// take a new file.
private func replaceableTarget(_ path: String) throws -> String {
    guard !path.isEmpty, !path.hasSuffix("/") else { throw GraftError.io("cannot save to \"\(path)\": not a file path") }
    var target = path
    var info = stat()
    if lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK {
        guard let resolved = realpath(path, nil) else {
            let code = errno
            throw GraftError.io("cannot save to \(path): a symbolic link to a file that cannot be reached (\(systemErrorText(code)))")
        }
        defer { free(resolved) }
        target = String(cString: resolved)
    }
    if stat(target, &info) == 0 && (info.st_mode & S_IFMT) != S_IFREG {
        throw GraftError.io("cannot save to \(path): it is \(fileKindName(info.st_mode)), not a regular file; left untouched")
    }
    let folder = splitPath(target).folder
    guard access(folder, W_OK) == 0 else {
        let missing = errno == ENOENT
        throw GraftError.io("cannot save to \(path): the folder \(folder) \(missing ? "does not exist" : "is not writable")")
    }
    return target
}

/// The folder ("." or "/" where the path names none) and the file name.
private func splitPath(_ path: String) -> (folder: String, name: String) {
    guard let slash = path.lastIndex(of: "/") else { return (".", path) }
    let folder = String(path[..<slash])
    return (folder.isEmpty ? "/" : folder, String(path[path.index(after: slash)...]))
}

/// `.<name>.<host>.`: what this host's temporary files for `name` begin with.
private func temporaryPrefix(of name: String) -> String {
    ".\(name).\(hostName)."
}

private let hostName: String = {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "host" }
    // A dot in the host name would make the pid field ambiguous.
    return String(String(cString: buffer).map { $0 == "." ? "_" : $0 })
}()

/// Removes `.<name>.<host>.<pid>.<n>.tmp` files in `folder` whose process is
/// gone. Best effort: a file that cannot be listed or removed stays.
private func removeStaleTemporaries(of name: String, in folder: String) {
    let prefix = temporaryPrefix(of: name)
    guard let directory = opendir(folder) else { return }
    defer { closedir(directory) }
    while let entry = readdir(directory) {
        let file = String(decoding: directoryEntryName(entry), as: UTF8.self)
        guard file.hasPrefix(prefix), file.hasSuffix(".tmp") else { continue }
        let fields = file.dropFirst(prefix.count).dropLast(4).split(separator: ".")
        guard fields.count == 2, let pid = pid_t(fields[0]), pid > 0, fields[1].allSatisfy(\.isNumber) else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH { unlink(folder + "/" + file) }
    }
}

/// fsync of a file or folder, so that what was written survives a crash.
private func flush(_ path: String, what: String) throws {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        let code = errno
        throw GraftError.io("cannot reopen \(what) \(path) to flush it: \(systemErrorText(code))")
    }
    defer { close(fd) }
    guard fsync(fd) == 0 else {
        let code = errno
        throw GraftError.io("cannot flush \(what) \(path) to disk: \(systemErrorText(code))")
    }
}

/// Numbers the temporary files of saves running at the same time.
private let temporaryNames = AtomicCounter()
