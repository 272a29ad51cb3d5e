import Glibc
import Synchronization

/// A lock around a critical section, for state that lives in a class of its
/// own. A POSIX mutex rather than the standard library's `Mutex`, whose
/// futex calls ThreadSanitizer cannot see (it would report every section a
/// lock guards as a race); Graft's library avoids Foundation's `NSLock`.
public final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A counter shared by threads: each call to `increment` gets its own value.
public final class AtomicCounter: @unchecked Sendable {
    private let value = Atomic<Int>(0)

    public init() {}

    /// Returns the current value and advances it by one.
    public func increment() -> Int {
        value.add(1, ordering: .relaxed).oldValue
    }
}
