import Glibc

/// A closure run at once on a thread of its own, and waited for with
/// `wait()`. Plain POSIX threads and a POSIX semaphore rather than Dispatch,
/// so that fork() is well defined: fork waits until no task is running (a
/// child forked in the middle of one would inherit whatever locks its
/// thread held, the Swift runtime's or malloc's, with no thread to release
/// them), so a child finds every task of its parent finished.
public final class BackgroundTask: @unchecked Sendable {
    private let done = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    private var body: (() -> Void)?

    /// Starts `body` on a new thread (on the calling one, before returning,
    /// if no thread can be started).
    public init(_ body: @escaping () -> Void) {
        sem_init(done, 0, 0)
        self.body = body
        TasksInFlight.begin()
        // The thread holds the task until it has posted: the semaphore
        // outlives every use.
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, nil, { context in
            let task = Unmanaged<BackgroundTask>.fromOpaque(context!).takeRetainedValue()
            task.run()
            return nil
        }, context)
        if started == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<BackgroundTask>.fromOpaque(context).release()
            run()
        }
    }

    private func run() {
        body?()
        body = nil
        sem_post(done)
        TasksInFlight.end()
    }

    /// Waits until the task has run (at once if it has).
    public func wait() {
        while sem_wait(done) != 0 && errno == EINTR {}
        // Posted again, so that later waits return at once.
        sem_post(done)
    }

    deinit {
        sem_destroy(done)
        done.deallocate()
    }
}

/// How many background tasks are running, and the fork handlers that wait
/// for none to be: the prepare handler takes the lock once the count is zero
/// and holds it across fork(), so that no task starts meanwhile.
private enum TasksInFlight {
    private static let lock: UnsafeMutablePointer<pthread_mutex_t> = {
        let lock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
        return lock
    }()
    private static let allDone: UnsafeMutablePointer<pthread_cond_t> = {
        let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
        pthread_cond_init(condition, nil)
        return condition
    }()
    /// Guarded by `lock`.
    private static let running: UnsafeMutablePointer<Int> = {
        let count = UnsafeMutablePointer<Int>.allocate(capacity: 1)
        count.initialize(to: 0)
        return count
    }()
    private static let forkHandlers: Void = {
        _ = (lock, allDone, running)
        pthread_atfork({
            pthread_mutex_lock(TasksInFlight.lock)
            while TasksInFlight.running.pointee > 0 { pthread_cond_wait(TasksInFlight.allDone, TasksInFlight.lock) }
        }, {
            pthread_mutex_unlock(TasksInFlight.lock)
        }, {
            pthread_mutex_init(TasksInFlight.lock, nil)
            pthread_cond_init(TasksInFlight.allDone, nil)
        })
    }()

    static func begin() {
        _ = forkHandlers
        pthread_mutex_lock(lock)
        running.pointee += 1
        pthread_mutex_unlock(lock)
    }

    static func end() {
        pthread_mutex_lock(lock)
        running.pointee -= 1
        if running.pointee == 0 { pthread_cond_broadcast(allDone) }
        pthread_mutex_unlock(lock)
    }
}
