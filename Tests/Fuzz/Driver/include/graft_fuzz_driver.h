// The entry points of the fuzz targets (Tests/Fuzz/*): SwiftPM names an
// executable's entry point <target>_main; each calls graft_fuzz_drive with
// the target's LLVMFuzzerTestOneInput.

#ifndef GRAFT_FUZZ_DRIVER_H
#define GRAFT_FUZZ_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// One input of a fuzz target; returns 0.
typedef int (*graft_fuzz_target)(const uint8_t *data, size_t size);

/// Built with -sanitize=fuzzer (`make fuzz`): libFuzzer's driver, with its
/// usual arguments. Built without it (`make test`): every file named on the
/// command line, or in a folder named there, is run once through the
/// target, so that the seed corpus and past findings stay regression tests.
int graft_fuzz_drive(int argc, char **argv, graft_fuzz_target target);

/// The path of this process's scratch file (in $TMPDIR, else /tmp).
const char *graft_fuzz_path(void);

/// Writes `data` to the scratch file and returns its path, for the readers
/// that take a path; NULL if it cannot.
const char *graft_fuzz_file(const uint8_t *data, size_t size);

#endif
