#define _POSIX_C_SOURCE 200809L
#include "graft_fuzz_driver.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// Present only when linked with libFuzzer (-sanitize=fuzzer).
extern int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *, size_t))
    __attribute__((weak));

// The target each executable defines, in Swift.
extern int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/// Runs one file through the target; -1 if it cannot be read.
static int replay_file(const char *path, graft_fuzz_target target) {
    FILE *file = fopen(path, "rb");
    if (!file) return -1;
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
    int ok = data && size >= 0 && fread(data, 1, (size_t)size, file) == (size_t)size;
    fclose(file);
    if (ok) target(data, (size_t)size);
    free(data);
    return ok ? 0 : -1;
}

/// Runs a file, or every regular file in a folder (not recursively).
static int replay(const char *path, graft_fuzz_target target, int *count) {
    struct stat info;
    if (stat(path, &info) != 0) return -1;
    if (!S_ISDIR(info.st_mode)) {
        (*count)++;
        return replay_file(path, target);
    }
    DIR *folder = opendir(path);
    if (!folder) return -1;
    int status = 0;
    for (struct dirent *entry; (entry = readdir(folder)) != NULL;) {
        if (entry->d_name[0] == '.') continue;
        size_t length = strlen(path) + strlen(entry->d_name) + 2;
        char *child = malloc(length);
        if (!child) break;
        snprintf(child, length, "%s/%s", path, entry->d_name);
        if (stat(child, &info) == 0 && S_ISREG(info.st_mode)) {
            (*count)++;
            if (replay_file(child, target) != 0) status = -1;
        }
        free(child);
    }
    closedir(folder);
    return status;
}

int graft_fuzz_drive(int argc, char **argv, graft_fuzz_target target) {
    if (LLVMFuzzerRunDriver) return LLVMFuzzerRunDriver(&argc, &argv, target);
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE_OR_FOLDER... (built without -sanitize=fuzzer: replays inputs; "
                        "`make fuzz` builds the fuzzer)\n", argv[0]);
        return 2;
    }
    int count = 0;
    for (int i = 1; i < argc; i++) {
        if (replay(argv[i], target, &count) != 0) {
            fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[i]);
            return 1;
        }
    }
    printf("%s: %d inputs replayed\n", argv[0], count);
    return 0;
}

const char *graft_fuzz_path(void) {
    static char path[4096];
    if (!path[0]) {
        const char *folder = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/graft-fuzz-%ld.input", folder && *folder ? folder : "/tmp", (long)getpid());
    }
    return path;
}

const char *graft_fuzz_file(const uint8_t *data, size_t size) {
    const char *path = graft_fuzz_path();
    FILE *file = fopen(path, "wb");
    if (!file) return NULL;
    int ok = size == 0 || fwrite(data, 1, size, file) == size;
    ok = fclose(file) == 0 && ok;
    return ok ? path : NULL;
}

int graft_fuzz_image_main(int argc, char **argv) { return graft_fuzz_drive(argc, argv, LLVMFuzzerTestOneInput); }
int graft_fuzz_weights_main(int argc, char **argv) { return graft_fuzz_drive(argc, argv, LLVMFuzzerTestOneInput); }
int graft_fuzz_model_main(int argc, char **argv) { return graft_fuzz_drive(argc, argv, LLVMFuzzerTestOneInput); }
