#define _GNU_SOURCE
#include "graft_pool.h"

#include <immintrin.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

// How a waiting pool thread waits: it spins (a pause per check) for up to
// SPIN_NANOSECONDS, then sleeps on a futex. Waking a sleeping thread took
// about 50 µs here, as long as many of a training step's passes; the gaps
// between those passes are mostly far shorter than the spin, so that the
// pool threads do not sleep until the step is over.
#define SPIN_NANOSECONDS 200000
#define MAX_THREADS 256

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t running = PTHREAD_MUTEX_INITIALIZER; // held for one loop
static size_t cpu_count;    // cores this process may run on
static size_t thread_count; // pool threads started: participants 1...thread_count
static _Thread_local int in_task; // this thread is running a loop's task

// The loop being run, published by a new generation.
static graft_pool_task loop_task;
static void *loop_context;
static size_t loop_count;
static _Atomic size_t loop_workers;   // read by every pool thread, taking part or not
static _Atomic size_t loop_next;      // next index to hand out
static _Atomic size_t loop_remaining; // pool threads taking part, not yet done
static _Atomic uint32_t generation;   // one more per loop; the futex word
static _Atomic uint32_t sleepers;     // pool threads asleep on `generation`
static uint32_t created_at;           // the generation new threads wait past

static uint64_t nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/// fork() waits for a loop in progress to end and holds the pool across it,
/// so that a child starts from a pool at rest.
static void hold_pool_for_fork(void) { pthread_mutex_lock(&running); }
static void release_pool_after_fork(void) { pthread_mutex_unlock(&running); }

/// A forked child has the parent's memory but none of its pool threads.
static void forget_threads_after_fork(void) {
    thread_count = 0;
    atomic_store(&sleepers, 0);
    pthread_mutex_init(&running, NULL);
}

/// Registered when the library loads, not on first use: a handler that a
/// thread registers while another thread forks does not run in that child.
__attribute__((constructor)) static void register_fork_handlers(void) {
    pthread_atfork(hold_pool_for_fork, release_pool_after_fork, forget_threads_after_fork);
}

static void setup(void) {
    cpu_set_t set;
    cpu_count = sched_getaffinity(0, sizeof set, &set) == 0 ? (size_t)CPU_COUNT(&set) : 1;
    if (cpu_count < 1) cpu_count = 1;
}

static void run_share(size_t worker) {
    in_task = 1;
    for (;;) {
        size_t i = atomic_fetch_add(&loop_next, 1);
        if (i >= loop_count) break;
        loop_task(loop_context, i, worker);
    }
    in_task = 0;
}

static void *pool_thread(void *argument) {
    size_t worker = (size_t)(uintptr_t)argument;
    // Not the current generation: the loop that starts this thread may have
    // published its own already.
    uint32_t seen = created_at;
    for (;;) {
        uint64_t start = nanoseconds();
        for (unsigned spins = 1; atomic_load(&generation) == seen; spins++) {
            _mm_pause();
            if (spins % 256 == 0 && nanoseconds() - start > SPIN_NANOSECONDS) {
                atomic_fetch_add(&sleepers, 1);
                // Returns at once if the generation has moved on meanwhile.
                syscall(SYS_futex, &generation, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
                atomic_fetch_sub(&sleepers, 1);
                start = nanoseconds();
            }
        }
        // A loop cannot start before every thread taking part in the one
        // before has finished, so none is missed here.
        seen = atomic_load(&generation);
        if (worker < atomic_load(&loop_workers)) {
            run_share(worker);
            atomic_fetch_sub(&loop_remaining, 1);
        }
    }
    return NULL;
}

int graft_pool_for(size_t count, size_t workers, graft_pool_task task, void *context) {
    pthread_once(&setup_once, setup);
    if (workers > cpu_count) workers = cpu_count;
    if (workers > MAX_THREADS + 1) workers = MAX_THREADS + 1;
    if (workers <= 1 || in_task) {
        // One thread, or a loop inside a task, whose cores are busy already.
        for (size_t i = 0; i < count; i++) task(context, i, 0);
        return 0;
    }
    if (pthread_mutex_trylock(&running) != 0) return -1;
    created_at = atomic_load(&generation);
    while (thread_count < workers - 1) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, pool_thread, (void *)(uintptr_t)(thread_count + 1)) != 0) {
            pthread_mutex_unlock(&running);
            return -1;
        }
        pthread_detach(thread);
        thread_count++;
    }
    loop_task = task;
    loop_context = context;
    loop_count = count;
    atomic_store(&loop_workers, workers);
    atomic_store(&loop_next, 0);
    atomic_store(&loop_remaining, workers - 1);
    // This (sequentially consistent) increment publishes the loop; a pool
    // thread that went to sleep before it is woken.
    atomic_fetch_add(&generation, 1);
    if (atomic_load(&sleepers) > 0) syscall(SYS_futex, &generation, FUTEX_WAKE_PRIVATE, MAX_THREADS, NULL, NULL, 0);
    run_share(0);
    for (unsigned spins = 1; atomic_load(&loop_remaining) > 0; spins++) {
        _mm_pause();
        // Where the system has preempted a thread taking part, it gets the core.
        if (spins % 4096 == 0) sched_yield();
    }
    pthread_mutex_unlock(&running);
    return 0;
}
