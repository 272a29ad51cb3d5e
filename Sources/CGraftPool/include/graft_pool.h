// A pool of worker threads that wait for work by spinning briefly before
// they sleep, so that the many short parallel passes of a training step
// (about 560 per ResNet50 step) start on every core at once.

#ifndef GRAFT_POOL_H
#define GRAFT_POOL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One item of a parallel loop: `index` in 0..<count, run by participant
/// `worker` in 0..<workers (the calling thread is worker 0).
typedef void (*graft_pool_task)(void *context, size_t index, size_t worker);

/// Runs task(context, i, worker) for every i in 0..<count on `workers`
/// threads (no more than the cores this process may run on: the calling
/// thread and pool threads 1...), handing the indices out in order from a
/// shared counter, and returns when all are done. The pool starts its
/// threads on first use and keeps them; after they have waited about
/// 0.2 ms for the next loop, they sleep. A loop called from inside a task
/// runs on the calling thread alone, as worker 0.
///
/// Returns 0, or -1 without running anything when another thread's loop
/// holds the pool or a thread cannot be started: the caller then runs the
/// loop some other way.
int graft_pool_for(size_t count, size_t workers, graft_pool_task task, void *context);

#ifdef __cplusplus
}
#endif

#endif
