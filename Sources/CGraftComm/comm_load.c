#define _GNU_SOURCE
#include "graft_comm.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int graft_comm_load(const char *path, graft_comm_engine *engine, char *error, size_t error_size) {
    /* RTLD_GLOBAL: MPI implementations load their own components, which
     * look up the MPI library's symbols in the global scope. */
    void *library = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
    if (!library) {
        snprintf(error, error_size, "cannot load the communication engine %s: %s", path, dlerror());
        return 1;
    }
    graft_comm_open_fn open = (graft_comm_open_fn)dlsym(library, GRAFT_COMM_OPEN_SYMBOL);
    if (!open) {
        snprintf(error, error_size, "%s is not a Graft communication engine (it has no %s)", path,
                 GRAFT_COMM_OPEN_SYMBOL);
        return 1;
    }
    memset(engine, 0, sizeof *engine);
    if (open(engine, error, error_size) != 0) return 1;
    if (engine->version != GRAFT_COMM_ENGINE_VERSION) {
        snprintf(error, error_size, "%s implements version %d of graft_comm.h, this Graft takes version %d", path,
                 engine->version, GRAFT_COMM_ENGINE_VERSION);
        return 1;
    }
    return 0;
}

void graft_comm_own_folder(char *folder, size_t size) {
    Dl_info info;
    folder[0] = 0;
    if (!dladdr((void *)graft_comm_own_folder, &info) || !info.dli_fname) return;
    const char *slash = strrchr(info.dli_fname, '/');
    if (!slash) return;
    size_t length = (size_t)(slash - info.dli_fname) + 1;
    if (length >= size) return;
    memcpy(folder, info.dli_fname, length);
    folder[length] = 0;
}
