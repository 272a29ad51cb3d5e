import Synchronization

/// A lock around a critical section, for state that lives in a class of its
/// own (Swift's `Mutex` cannot be stored where a copyable value is needed).
/// Graft's library avoids Foundation (statically linked, it would need
/// CoreFoundation and ICU), so it locks with the standard library's `Mutex`.
public final class Lock: @unchecked Sendable {
    private let mutex = Mutex<Void>(())

    public init() {}

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        try mutex.withLock { _ in try body() }
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
