import Glibc

/// The name of a directory entry from readdir, its bytes without the NUL,
/// read in place: a dirent is only as long as its name needs, so copying
/// the whole struct (`entry.pointee`) can read past the end of readdir's
/// buffer.
public func directoryEntryName(_ entry: UnsafeMutablePointer<dirent>) -> [UInt8] {
    let name = UnsafeRawPointer(entry) + MemoryLayout<dirent>.offset(of: \dirent.d_name)!
    let bytes = name.assumingMemoryBound(to: UInt8.self)
    return Array(UnsafeBufferPointer(start: bytes, count: strlen(name.assumingMemoryBound(to: CChar.self))))
}
