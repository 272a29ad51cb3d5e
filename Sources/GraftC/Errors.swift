import CGraftABI
import Glibc
import GraftFoundation
import GraftKernels

/// The per-thread message behind graft_last_error(). Swift has no
/// thread_local; a pthread key owns one malloc'd string per thread, freed by
/// the key's destructor at thread exit (which is why libgraft.so is linked
/// with -z nodelete: the destructor must outlive a dlclose).
enum LastError {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { free($0) }
        return key
    }()

    private static let empty: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

    static func set(_ message: String) {
        let old = pthread_getspecific(key)
        pthread_setspecific(key, strdup(message))
        free(old)
    }

    static var current: UnsafePointer<CChar> {
        guard let p = pthread_getspecific(key) else { return empty }
        return UnsafePointer(p.assumingMemoryBound(to: CChar.self))
    }
}

extension GraftError.Kind {
    var status: graft_status {
        switch self {
        case .invalidArgument: GRAFT_ERROR_INVALID_ARGUMENT
        case .io: GRAFT_ERROR_IO
        case .format: GRAFT_ERROR_FORMAT
        case .state: GRAFT_ERROR_STATE
        case .outOfMemory: GRAFT_ERROR_OUT_OF_MEMORY
        case .numeric: GRAFT_ERROR_NUMERIC
        case .cancelled: GRAFT_ERROR_CANCELLED
        case .distributed: GRAFT_ERROR_DISTRIBUTED
        }
    }
}

/// Runs the body of a C entry point: a thrown error becomes a status and the
/// thread's last-error message; nothing escapes the ABI.
func catchingErrors(_ body: () throws -> Void) -> graft_status {
    do {
        try body()
        return GRAFT_OK
    } catch let error as GraftError {
        LastError.set(error.message)
        return error.kind.status
    } catch {
        LastError.set("internal error: \(error)")
        return GRAFT_ERROR_INTERNAL
    }
}

/// A required pointer argument, or an invalid-argument error naming it.
func required<T>(_ pointer: T?, _ name: String) throws -> T {
    guard let pointer else { throw GraftError.invalidArgument("\(name) is NULL") }
    return pointer
}

/// Reads an options struct that begins with `size_t struct_size`, as much of
/// it as the caller's struct_size says the caller knows; later fields keep
/// their defaults. So a program built against an older, shorter struct works.
func readOptions<T>(_ pointer: UnsafePointer<T>, defaults: T, initFunction: String) throws -> T {
    let size = UnsafeRawPointer(pointer).load(as: Int.self)
    guard size > MemoryLayout<Int>.size && size < 1 << 16 else {
        throw GraftError.invalidArgument(
            "options.struct_size is \(size): initialise the options with \(initFunction)() first")
    }
    var result = defaults
    withUnsafeMutableBytes(of: &result) { bytes in
        let known = min(size, MemoryLayout<T>.size)
        bytes.baseAddress!.copyMemory(from: UnsafeRawPointer(pointer), byteCount: known)
    }
    return result
}

/// Writes `value` into a caller's options struct of `callerSize` bytes: only
/// the fields the caller's header knows, and struct_size set to that size.
func writeOptions<T>(_ value: T, to pointer: UnsafeMutablePointer<T>, callerSize: Int) {
    var value = value
    let size = min(max(callerSize, 0), MemoryLayout<T>.size)
    withUnsafeMutableBytes(of: &value) { bytes in
        bytes.storeBytes(of: size, toByteOffset: 0, as: Int.self)
        UnsafeMutableRawPointer(pointer).copyMemory(from: bytes.baseAddress!, byteCount: size)
    }
}

/// A 0-or-1 field of an options struct; anything else is refused rather
/// than read as true (a caller who wrote 5 meant something else).
func flag(_ value: Int32, _ name: String) throws -> Bool {
    guard value == 0 || value == 1 else { throw GraftError.invalidArgument("\(name) must be 0 or 1, not \(value)") }
    return value == 1
}

/// A C array argument and its count: NULL with a count of 0, or an array of
/// a count from 0 up.
func array<T>(_ pointer: UnsafePointer<T>?, count: Int32, _ name: String) throws -> UnsafeBufferPointer<T> {
    guard count >= 0 else { throw GraftError.invalidArgument("\(name)_count must not be negative, not \(count)") }
    guard let pointer else {
        guard count == 0 else { throw GraftError.invalidArgument("\(name) is NULL but \(name)_count is \(count)") }
        return UnsafeBufferPointer(start: nil, count: 0)
    }
    return UnsafeBufferPointer(start: pointer, count: Int(count))
}

/// A C string argument as a Swift string, refusing invalid UTF-8.
func string(_ pointer: UnsafePointer<CChar>, _ name: String) throws -> String {
    guard let s = String(validatingCString: pointer) else {
        throw GraftError.invalidArgument("\(name) is not valid UTF-8")
    }
    return s
}
