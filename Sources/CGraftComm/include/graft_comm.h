/*
 * graft_comm.h — the interface a communication engine implements for Graft's
 * data-parallel training (a library Graft loads at run time, so that Graft
 * itself builds and runs without it): sum, broadcast, gather, barrier.
 *
 * Every collective is started without blocking and completed by polling
 * `test`: Graft keeps computing while the data travels (the gradients of a
 * layer go while the backward pass goes on to the layers before it), and
 * gives up on a peer that does not answer within its timeout instead of
 * hanging.
 *
 * An engine library exports GRAFT_COMM_OPEN_SYMBOL, a graft_comm_open_fn.
 * Graft calls the engine from one thread at a time.
 */
#ifndef GRAFT_COMM_H
#define GRAFT_COMM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Incremented whenever graft_comm_engine changes; an engine built for
 * another version is refused. */
#define GRAFT_COMM_ENGINE_VERSION 1
#define GRAFT_COMM_OPEN_SYMBOL "graft_comm_open"

typedef enum graft_comm_type {
    GRAFT_COMM_FLOAT32 = 0,
    GRAFT_COMM_FLOAT64 = 1,
    GRAFT_COMM_BYTES = 2
} graft_comm_type;

/* A collective in flight, owned by the engine. */
typedef struct graft_comm_request graft_comm_request;

/* Each function returns 0, or nonzero after writing a message (at most
 * error_size bytes, NUL-terminated) into `error`. */
typedef struct graft_comm_engine {
    int32_t version;  /* GRAFT_COMM_ENGINE_VERSION */
    int32_t rank;     /* this process, 0 ..< size */
    int32_t size;     /* the processes of the group */
    const char *name; /* the engine and its version, static storage */

    /* Sums `count` elements of every process's `buffer` into every
     * process's `buffer`. Every process gets the same bits (the engine
     * reduces each element in one fixed order), so that their weights stay
     * identical step after step. */
    int (*allreduce_sum)(void *buffer, int64_t count, graft_comm_type type, graft_comm_request **request,
                         char *error, size_t error_size);
    /* `bytes` bytes of process `root`'s `buffer` into every process's. */
    int (*broadcast)(void *buffer, int64_t bytes, int32_t root, graft_comm_request **request, char *error,
                     size_t error_size);
    /* `bytes` bytes from each process, laid out by rank in `receive`
     * (size * bytes bytes). */
    int (*allgather)(const void *send, void *receive, int64_t bytes, graft_comm_request **request, char *error,
                     size_t error_size);
    /* Completes once every process has started it. */
    int (*barrier)(graft_comm_request **request, char *error, size_t error_size);
    /* *done becomes 1 when the request has completed (and is released). */
    int (*test)(graft_comm_request *request, int *done, char *error, size_t error_size);
    /* A request given up on (a peer did not answer): released as far as the
     * engine can; the engine then refuses every new collective, and does not
     * wait for the group at exit. */
    void (*abandon)(graft_comm_request *request);
} graft_comm_engine;

/* Starts the engine (joining the group its launcher set up) and fills
 * *engine. Called once per process. */
typedef int (*graft_comm_open_fn)(graft_comm_engine *engine, char *error, size_t error_size);

/* Loads the engine library at `path` (its dependencies made visible to the
 * libraries they load themselves, as MPI's plugins need) and opens it.
 * Returns 0, or nonzero with a message in `error`. */
int graft_comm_load(const char *path, graft_comm_engine *engine, char *error, size_t error_size);

/* The folder of the library or program this code is linked into, with a
 * trailing '/', into `folder` (at most size bytes); "" if unknown. */
void graft_comm_own_folder(char *folder, size_t size);

#ifdef __cplusplus
}
#endif

#endif
