/*
 * libgraft_mpi.so — Graft's communication engine on MPI (graft_comm.h).
 *
 * Built apart from libgraft.so (`make build` compiles it with mpicc when
 * MPI's compiler is installed) and loaded by Graft only when a program asks
 * for distributed training, so that Graft builds and runs on machines
 * without MPI.
 *
 * Graft's collectives run on duplicates of MPI_COMM_WORLD, so that they
 * never match a message of the program's own, with errors returned rather
 * than aborting the process. MPI is initialised here unless the program did
 * it first (then the program finalises it too).
 */
#include "graft_comm.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* MPI matches the collectives of a communicator by the order in which each
 * process starts them. A sum runs in two stages (below), the second started
 * once the first has completed, which is not the same moment in every
 * process; so each kind of stage has a communicator of its own, and the
 * second stages are started in the order the sums were (`queue`). */
static MPI_Comm reducing = MPI_COMM_NULL; /* sums' first stage */
static MPI_Comm returning = MPI_COMM_NULL; /* sums' second stage */
static MPI_Comm sharing = MPI_COMM_NULL; /* broadcasts, gathers, barriers */
static int rank;
/* Whether MPI_Init was ours, hence MPI_Finalize too. */
static int initialised_here;
/* Whether a collective was given up on: the group is then broken, and
 * MPI_Finalize, which waits for every process, must not be called. */
static int broken;
static char engine_name[MPI_MAX_LIBRARY_VERSION_STRING + 16];

/* Elements per MPI call: MPI counts are ints. */
#define CHUNK ((int64_t)1 << 30)

struct graft_comm_request {
    int chunks;
    /* A sum: each chunk reduced to rank 0, then broadcast from it, so that
     * every process gets rank 0's bits whatever algorithm MPI picks for the
     * reduction. Else (a broadcast or a gather) `returned` alone. */
    MPI_Request *reduced;
    MPI_Request *returned;
    int second_stage;  /* the second stage (or the only one) has started */
    char *buffer;
    int64_t count;
    MPI_Datatype type;
    size_t element_size;
    graft_comm_request *next;  /* in `queue` */
};

/* Sums whose second stage has not started, oldest first. */
static graft_comm_request *queue, **queue_end = &queue;

static int fail(int code, const char *what, char *error, size_t error_size) {
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) snprintf(text, sizeof text, "MPI error %d", code);
    snprintf(error, error_size, "%s failed: %s", what, text);
    broken = 1;
    return 1;
}

static void release(graft_comm_request *r) {
    free(r->reduced);
    free(r->returned);
    free(r);
}

static graft_comm_request *make(int64_t count, size_t element_size, int stages, char *error, size_t error_size) {
    if (broken) {
        snprintf(error, error_size, "the process group failed earlier: no further collective can run");
        return NULL;
    }
    graft_comm_request *r = calloc(1, sizeof *r);
    int chunks = count > 0 ? (int)((count + CHUNK - 1) / CHUNK) : 0;
    if (r) {
        r->chunks = chunks;
        r->returned = calloc((size_t)chunks + 1, sizeof(MPI_Request));
        r->reduced = stages == 2 ? calloc((size_t)chunks + 1, sizeof(MPI_Request)) : NULL;
    }
    if (!r || !r->returned || (stages == 2 && !r->reduced)) {
        if (r) release(r);
        snprintf(error, error_size, "out of memory starting a collective");
        return NULL;
    }
    r->count = count;
    r->element_size = element_size;
    return r;
}

static int64_t chunk_length(const graft_comm_request *r, int k) {
    int64_t left = r->count - (int64_t)k * CHUNK;
    return left < CHUNK ? left : CHUNK;
}

/* Starts the second stage of the oldest sums whose first has completed, in
 * the order they were started. */
static int advance(char *error, size_t error_size) {
    while (queue) {
        graft_comm_request *r = queue;
        int complete = 0, code = MPI_Testall(r->chunks, r->reduced, &complete, MPI_STATUSES_IGNORE);
        if (code != MPI_SUCCESS) return fail(code, "MPI_Ireduce", error, error_size);
        if (!complete) return 0;
        for (int k = 0; k < r->chunks; k++) {
            code = MPI_Ibcast(r->buffer + (int64_t)k * CHUNK * (int64_t)r->element_size, (int)chunk_length(r, k),
                              r->type, 0, returning, &r->returned[k]);
            if (code != MPI_SUCCESS) return fail(code, "MPI_Ibcast", error, error_size);
        }
        r->second_stage = 1;
        queue = r->next;
        if (!queue) queue_end = &queue;
    }
    return 0;
}

static int allreduce_sum(void *buffer, int64_t count, graft_comm_type type, graft_comm_request **request,
                         char *error, size_t error_size) {
    if (type != GRAFT_COMM_FLOAT32 && type != GRAFT_COMM_FLOAT64) {
        snprintf(error, error_size, "allreduce_sum takes float32 or float64, not type %d", (int)type);
        return 1;
    }
    size_t element_size = type == GRAFT_COMM_FLOAT32 ? 4 : 8;
    graft_comm_request *r = make(count, element_size, 2, error, error_size);
    if (!r) return 1;
    r->buffer = buffer;
    r->type = type == GRAFT_COMM_FLOAT32 ? MPI_FLOAT : MPI_DOUBLE;
    for (int k = 0; k < r->chunks; k++) {
        char *at = r->buffer + (int64_t)k * CHUNK * (int64_t)element_size;
        int code = MPI_Ireduce(rank == 0 ? MPI_IN_PLACE : at, at, (int)chunk_length(r, k), r->type, MPI_SUM, 0,
                               reducing, &r->reduced[k]);
        if (code != MPI_SUCCESS) {
            release(r);
            return fail(code, "MPI_Ireduce", error, error_size);
        }
    }
    *queue_end = r;
    queue_end = &r->next;
    *request = r;
    return 0;
}

static int broadcast(void *buffer, int64_t bytes, int32_t root, graft_comm_request **request, char *error,
                     size_t error_size) {
    graft_comm_request *r = make(bytes, 1, 1, error, error_size);
    if (!r) return 1;
    r->second_stage = 1;
    for (int k = 0; k < r->chunks; k++) {
        int code = MPI_Ibcast((char *)buffer + (int64_t)k * CHUNK, (int)chunk_length(r, k), MPI_BYTE, root, sharing,
                              &r->returned[k]);
        if (code != MPI_SUCCESS) {
            release(r);
            return fail(code, "MPI_Ibcast", error, error_size);
        }
    }
    *request = r;
    return 0;
}

static int allgather(const void *send, void *receive, int64_t bytes, graft_comm_request **request, char *error,
                     size_t error_size) {
    if (bytes > CHUNK) {
        snprintf(error, error_size, "allgather takes at most %lld bytes per process", (long long)CHUNK);
        return 1;
    }
    graft_comm_request *r = make(1, 1, 1, error, error_size);
    if (!r) return 1;
    r->second_stage = 1;
    int code = MPI_Iallgather(send, (int)bytes, MPI_BYTE, receive, (int)bytes, MPI_BYTE, sharing, &r->returned[0]);
    if (code != MPI_SUCCESS) {
        release(r);
        return fail(code, "MPI_Iallgather", error, error_size);
    }
    *request = r;
    return 0;
}

static int barrier(graft_comm_request **request, char *error, size_t error_size) {
    graft_comm_request *r = make(1, 1, 1, error, error_size);
    if (!r) return 1;
    r->second_stage = 1;
    int code = MPI_Ibarrier(sharing, &r->returned[0]);
    if (code != MPI_SUCCESS) {
        release(r);
        return fail(code, "MPI_Ibarrier", error, error_size);
    }
    *request = r;
    return 0;
}

static int test(graft_comm_request *r, int *done, char *error, size_t error_size) {
    *done = 0;
    if (advance(error, error_size) != 0) return 1;
    if (!r->second_stage) return 0;
    int complete = 0, code = MPI_Testall(r->chunks, r->returned, &complete, MPI_STATUSES_IGNORE);
    if (code != MPI_SUCCESS) return fail(code, "a collective", error, error_size);
    if (!complete) return 0;
    release(r);
    *done = 1;
    return 0;
}

static void abandon(graft_comm_request *r) {
    /* A collective cannot be cancelled, and MPI may still write its
     * buffers: the request is left as it is, the group marked broken. */
    (void)r;
    broken = 1;
}

static void finalise_at_exit(void) {
    int finalised = 0;
    MPI_Finalized(&finalised);
    if (finalised || broken) return;
    MPI_Comm_free(&reducing);
    MPI_Comm_free(&returning);
    MPI_Comm_free(&sharing);
    if (initialised_here) MPI_Finalize();
}

static int duplicate(MPI_Comm *comm, char *error, size_t error_size) {
    int code = MPI_Comm_dup(MPI_COMM_WORLD, comm);
    if (code != MPI_SUCCESS) return fail(code, "MPI_Comm_dup", error, error_size);
    MPI_Comm_set_errhandler(*comm, MPI_ERRORS_RETURN);
    return 0;
}

int graft_comm_open(graft_comm_engine *engine, char *error, size_t error_size) {
    int initialised = 0, provided = 0, code;
    MPI_Initialized(&initialised);
    if (!initialised) {
        /* Graft calls MPI from one thread at a time, not always the same. */
        code = MPI_Init_thread(NULL, NULL, MPI_THREAD_SERIALIZED, &provided);
        if (code != MPI_SUCCESS) return fail(code, "MPI_Init_thread", error, error_size);
        initialised_here = 1;
        /* Open MPI reports a failed nonblocking collective through
         * MPI_COMM_WORLD's handler: return it rather than abort (the
         * program uses MPI only through Graft). */
        MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    }
    if (duplicate(&reducing, error, error_size) || duplicate(&returning, error, error_size)
        || duplicate(&sharing, error, error_size))
        return 1;
    atexit(finalise_at_exit);
    int size = 1, length = 0;
    MPI_Comm_rank(sharing, &rank);
    MPI_Comm_size(sharing, &size);
    char version[MPI_MAX_LIBRARY_VERSION_STRING];
    MPI_Get_library_version(version, &length);
    /* Its first line ("Open MPI v4.1.4, package: ...") up to the comma. */
    version[strcspn(version, ",\n")] = 0;
    snprintf(engine_name, sizeof engine_name, "%s", version);
    *engine = (graft_comm_engine){.version = GRAFT_COMM_ENGINE_VERSION, .rank = rank, .size = size,
                                  .name = engine_name, .allreduce_sum = allreduce_sum, .broadcast = broadcast,
                                  .allgather = allgather, .barrier = barrier, .test = test, .abandon = abandon};
    return 0;
}
