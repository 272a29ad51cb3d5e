/*
 * abi_test.c: the C ABI of Graft (include/graft.h), checked from plain C99.
 *
 * Usage: abi_test FIXTURES_DIR   (.fixtures/model, made by `make fixtures`)
 *
 * Checks the versions and the option defaults, Keras parity of the features
 * of the fixture ResNet50 at 100 x 100, and hostile input: every bad call must
 * return the documented status with a message naming what was wrong, and the
 * model must compute the same features afterwards; and that a forked child
 * (which has none of its parent's worker threads) computes them too. Prints one line per check
 * and exits with status 1 if any failed.
 */

/* mkstemp and fdopen (POSIX), for the truncated copy of a weight file. */
#define _POSIX_C_SOURCE 200809L

#include <graft.h>

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Golden data of the fixtures at 100 x 100 (see .fixtures/model/manifest.txt). */
enum { BATCH = 3, SIDE = 100, FEATURE_SIDE = 4, CHANNELS = 2048 };
#define IMAGE_FLOATS ((size_t)BATCH * SIDE * SIDE * 3)
#define FEATURE_FLOATS ((size_t)BATCH * FEATURE_SIDE * FEATURE_SIDE * CHANNELS)

/* Graft sums float32 products in another order than Keras (GEMM tiling,
 * BatchNorm folded into the convolutions): about 1e-6 of the features' scale.
 * A real bug (a swapped weight, wrong padding or stride) is far larger. */
#define TOLERANCE 1e-4

/* The truncated weight file keeps this many bytes of the real one. */
#define TRUNCATED_BYTES (1L << 20)

static int checks, failures;

/* Records one check and prints its line: "ok   what" or "FAIL what". */
static int check(int ok, const char *format, ...) {
    va_list args;
    checks++;
    if (!ok) failures++;
    printf("%s ", ok ? "ok  " : "FAIL");
    va_start(args, format);
    vprintf(format, args);
    va_end(args);
    printf("\n");
    fflush(stdout);
    return ok;
}

static const char *status_name(graft_status status) {
    switch (status) {
    case GRAFT_OK: return "OK";
    case GRAFT_ERROR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case GRAFT_ERROR_IO: return "IO";
    case GRAFT_ERROR_FORMAT: return "FORMAT";
    case GRAFT_ERROR_STATE: return "STATE";
    case GRAFT_ERROR_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case GRAFT_ERROR_INTERNAL: return "INTERNAL";
    case GRAFT_ERROR_NUMERIC: return "NUMERIC";
    case GRAFT_ERROR_CANCELLED: return "CANCELLED";
    case GRAFT_ERROR_DISTRIBUTED: return "DISTRIBUTED";
    }
    return "unknown status";
}

/* A failing call: the expected status, and a last-error message that names
 * `mention`. The message is not cleared by successful calls, so requiring
 * each call's own subject proves the message is that call's. */
static int check_error(graft_status got, graft_status expected, const char *mention, const char *what) {
    const char *message = graft_last_error();
    int ok = got == expected && message != NULL && strstr(message, mention) != NULL;
    return check(ok, "%s -> %s, \"%s\" (expected %s naming \"%s\")", what, status_name(got),
                 message ? message : "(NULL)", status_name(expected), mention);
}

/* Reads `count` little-endian float32 (the machine's order on x86-64 and
 * arm64) from dir/name; NULL, with a message, unless it holds exactly that. */
static float *read_floats(const char *dir, const char *name, size_t count) {
    char path[4096];
    FILE *file;
    float *data;
    size_t got;
    int extra;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "abi_test: cannot open %s: run `make fixtures`\n", path);
        return NULL;
    }
    data = malloc(count * sizeof *data);
    got = data ? fread(data, sizeof *data, count, file) : 0;
    extra = fgetc(file);
    fclose(file);
    if (got != count || extra != EOF) {
        fprintf(stderr, "abi_test: %s does not hold %zu floats: run `make fixtures`\n", path, count);
        free(data);
        return NULL;
    }
    return data;
}

/* max |actual - expected| / max |expected|. */
static double relative_error(const float *actual, const float *expected, size_t count) {
    double error = 0, scale = 0;
    size_t i;
    for (i = 0; i < count; i++) {
        double difference = fabs((double)actual[i] - expected[i]);
        /* A NaN must fail, and NaN > error is false. */
        if (isnan(difference)) return INFINITY;
        if (difference > error) error = difference;
        if (fabs(expected[i]) > scale) scale = fabs(expected[i]);
    }
    return scale > 0 ? error / scale : INFINITY;
}

/* Copies the first `bytes` of `source` into a new temporary file whose path
 * is written to `path` ("" if none was created); 0 on failure. */
static int write_truncated_copy(const char *source, long bytes, char *path, size_t path_size) {
    const char *tmpdir = getenv("TMPDIR");
    FILE *in, *out;
    int fd, ok = 1;
    long left = bytes;
    char buffer[65536];

    snprintf(path, path_size, "%s/graft_truncated_XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
    fd = mkstemp(path);
    if (fd < 0) {
        path[0] = '\0';
        return 0;
    }
    out = fdopen(fd, "wb");
    in = fopen(source, "rb");
    if (out == NULL || in == NULL) ok = 0;
    while (ok && left > 0) {
        size_t chunk = left < (long)sizeof buffer ? (size_t)left : sizeof buffer;
        ok = fread(buffer, 1, chunk, in) == chunk && fwrite(buffer, 1, chunk, out) == chunk;
        left -= (long)chunk;
    }
    if (in) fclose(in);
    if (out) ok = fclose(out) == 0 && ok;
    else close(fd);
    return ok;
}

static void check_versions(void) {
    const char *version = graft_version();
    int major, minor, patch, end = -1;
    check(version != NULL && sscanf(version, "%d.%d.%d%n", &major, &minor, &patch, &end) == 3 &&
              version[end] == '\0',
          "graft_version() is MAJOR.MINOR.PATCH: \"%s\"", version ? version : "(NULL)");
    check(graft_abi_version() == GRAFT_ABI_VERSION, "graft_abi_version() %d == GRAFT_ABI_VERSION %d",
          graft_abi_version(), GRAFT_ABI_VERSION);
    check(graft_last_error() != NULL, "graft_last_error() is never NULL");
}

/* Outside a launcher, joining a group does nothing: one process. */
static void check_distribution_alone(void) {
    check(graft_distribution_initialize(-1) == GRAFT_ERROR_INVALID_ARGUMENT && strstr(graft_last_error(), "timeout"),
          "a negative timeout is refused: %s", graft_last_error());
    check(graft_distribution_initialize(0) == GRAFT_OK, "initialize outside mpirun: %s", graft_last_error());
    check(graft_distribution_rank() == 0 && graft_distribution_size() == 1, "rank %d of %d outside mpirun",
          graft_distribution_rank(), graft_distribution_size());
    check(graft_distribution_barrier() == GRAFT_OK, "the barrier of one process: %s", graft_last_error());
}

static void check_defaults(void) {
    graft_model_options options;
    memset(&options, 0xab, sizeof options);
    graft_model_options_init(&options);
    check(options.struct_size == sizeof options, "options_init: struct_size %zu == sizeof %zu",
          options.struct_size, sizeof options);
    check(options.architecture != NULL && strcmp(options.architecture, "resnet50") == 0,
          "options_init: architecture \"resnet50\"");
    check(options.weights == NULL, "options_init: weights NULL (random initialisation)");
    check(options.input_height == 224 && options.input_width == 224, "options_init: input 224 x 224, got %d x %d",
          (int)options.input_height, (int)options.input_width);
    check(options.preprocessing == GRAFT_PREPROCESS_CAFFE, "options_init: preprocessing CAFFE");
    check(options.seed == 0 && options.num_threads == 0, "options_init: seed 0, num_threads 0 (one per core)");
    check(options.precision == GRAFT_PRECISION_FLOAT32, "options_init: precision FLOAT32");
}

/* Keras's optimizer and schedule defaults as the header states them, and a
 * schedule's rates: CosineDecay's warm-up is linear, and
 * PiecewiseConstantDecay holds each value up to its boundary. */
static void check_optimizer_defaults(void) {
    graft_optimizer_options options;
    graft_learning_rate_schedule schedule;
    int64_t boundaries[2] = {10, 20};
    float values[3] = {0.5f, 0.25f, 0.125f}, rate = -1;

    memset(&options, 0xab, sizeof options);
    graft_optimizer_options_init(&options, GRAFT_OPTIMIZER_ADAMW);
    check(options.kind == GRAFT_OPTIMIZER_ADAMW && options.learning_rate == 0.001f && options.weight_decay == 0.004f &&
              options.beta_1 == 0.9 && options.beta_2 == 0.999 && options.epsilon == 1e-7f,
          "AdamW defaults: learning_rate 0.001, weight_decay 0.004, betas 0.9 0.999, epsilon 1e-7");
    check(options.clipnorm == 0 && options.global_clipnorm == 0 && options.clipvalue == 0 &&
              options.learning_rate_schedule == NULL,
          "optimizer defaults: no clipping, no schedule");
    graft_optimizer_options_init(&options, GRAFT_OPTIMIZER_RMSPROP);
    check(options.learning_rate == 0.001f && options.rho == 0.9 && options.momentum == 0 && options.epsilon == 1e-7f &&
              options.centered == 0 && options.weight_decay == 0,
          "RMSprop defaults: learning_rate 0.001, rho 0.9, momentum 0, epsilon 1e-7, not centered, no decay");

    graft_learning_rate_schedule_init(&schedule, GRAFT_SCHEDULE_COSINE_DECAY);
    check(schedule.alpha == 0 && isnan(schedule.warmup_target) && schedule.warmup_steps == 0,
          "CosineDecay defaults: alpha 0, no warm-up");
    schedule.initial_learning_rate = 0;
    schedule.decay_steps = 100;
    schedule.warmup_target = 1;
    schedule.warmup_steps = 10;
    check(graft_learning_rate_schedule_value(&schedule, 5, &rate) == GRAFT_OK && rate == 0.5f,
          "CosineDecay warm-up: half way to the target at step 5, got %g", rate);
    check_error(graft_learning_rate_schedule_value(&schedule, -1, &rate), GRAFT_ERROR_INVALID_ARGUMENT, "step",
                "a negative step");
    schedule.decay_steps = 0;
    check_error(graft_learning_rate_schedule_value(&schedule, 0, &rate), GRAFT_ERROR_INVALID_ARGUMENT, "decay_steps",
                "decay_steps 0");

    graft_learning_rate_schedule_init(&schedule, GRAFT_SCHEDULE_PIECEWISE_CONSTANT_DECAY);
    schedule.boundaries = boundaries;
    schedule.values = values;
    schedule.values_count = 3;
    check(graft_learning_rate_schedule_value(&schedule, 10, &rate) == GRAFT_OK && rate == 0.5f &&
              graft_learning_rate_schedule_value(&schedule, 11, &rate) == GRAFT_OK && rate == 0.25f &&
              graft_learning_rate_schedule_value(&schedule, 21, &rate) == GRAFT_OK && rate == 0.125f,
          "PiecewiseConstantDecay: each value up to its boundary");
    schedule.values = NULL;
    check_error(graft_learning_rate_schedule_value(&schedule, 0, &rate), GRAFT_ERROR_INVALID_ARGUMENT, "values",
                "NULL values");
}

/* Features of `pre` by `model`, compared with Keras's `out`. */
static void check_parity(graft_model *model, const float *pre, const float *raw, const float *out,
                         float *features, const char *when) {
    graft_status status;
    memset(features, 0, FEATURE_FLOATS * sizeof *features);
    status = graft_model_features(model, pre, BATCH, features);
    check(status == GRAFT_OK && relative_error(features, out, FEATURE_FLOATS) <= TOLERANCE,
          "graft_model_features %s: status %s, error %.3g of max |Keras| (limit %g)", when, status_name(status),
          relative_error(features, out, FEATURE_FLOATS), TOLERANCE);
    memset(features, 0, FEATURE_FLOATS * sizeof *features);
    status = graft_model_image_features(model, raw, BATCH, features);
    check(status == GRAFT_OK && relative_error(features, out, FEATURE_FLOATS) <= TOLERANCE,
          "graft_model_image_features (caffe) %s: status %s, error %.3g of max |Keras|", when, status_name(status),
          relative_error(features, out, FEATURE_FLOATS));
}

static void check_shapes_and_layers(graft_model *model) {
    int32_t height = 0, width = 0, channels = 0;
    const char *name;
    graft_status status = graft_model_input_shape(model, &height, &width);
    check(status == GRAFT_OK && height == SIDE && width == SIDE, "input shape %d x %d",
          (int)height, (int)width);
    status = graft_model_feature_shape(model, &height, &width, &channels);
    check(status == GRAFT_OK && height == FEATURE_SIDE && width == FEATURE_SIDE && channels == CHANNELS,
          "feature shape %d x %d x %d", (int)height, (int)width, (int)channels);
    check(graft_model_base_layer_count(model) == 175, "175 base layers, got %d",
          graft_model_base_layer_count(model));
    name = graft_model_base_layer_name(model, 2);
    check(name != NULL && strcmp(name, "conv1_conv") == 0, "layer 2 is conv1_conv: %s", name ? name : "(NULL)");
    name = graft_model_base_layer_name(model, -10);
    check(name != NULL && strcmp(name, "conv5_block3_1_conv") == 0, "layer -10 is conv5_block3_1_conv: %s",
          name ? name : "(NULL)");
    check(graft_model_base_layer_name(model, 175) == NULL && graft_model_base_layer_name(model, -176) == NULL,
          "layer names out of range are NULL");
    check(graft_model_base_layer_count(NULL) == -1 && graft_model_base_layer_name(NULL, 0) == NULL,
          "layer count -1 and name NULL for a NULL model");
    check(graft_model_precision(model) == GRAFT_PRECISION_FLOAT32 && graft_model_precision(NULL) == -1,
          "precision FLOAT32 by default, -1 for a NULL model");
}

/* graft_model_create with `options`, expecting failure: status, message and a
 * NULL handle. *out starts non-NULL (the live model) to see it reset. */
static void check_create_fails(const graft_model_options *options, graft_model *live, graft_status expected,
                               const char *mention, const char *what) {
    graft_model *out = live;
    graft_status status = graft_model_create(options, &out);
    check_error(status, expected, mention, what);
    check(out == NULL, "%s leaves *out NULL", what);
}

static void check_hostile_create(const char *fixtures, graft_model *live) {
    graft_model_options options;
    graft_model *out;
    char path[4096], truncated[4096];

    check_create_fails(NULL, live, GRAFT_ERROR_INVALID_ARGUMENT, "options", "create(NULL options)");

    graft_model_options_init(&options);
    check_error(graft_model_create(&options, NULL), GRAFT_ERROR_INVALID_ARGUMENT, "out", "create(NULL out)");

    options.struct_size = 0;
    check_create_fails(&options, live, GRAFT_ERROR_INVALID_ARGUMENT, "graft_model_options_init",
                       "create with struct_size 0");

    graft_model_options_init(&options);
    options.architecture = "resnet49";
    check_create_fails(&options, live, GRAFT_ERROR_INVALID_ARGUMENT, "resnet49", "create(architecture resnet49)");

    graft_model_options_init(&options);
    options.precision = 7;
    check_create_fails(&options, live, GRAFT_ERROR_INVALID_ARGUMENT, "precision", "create(precision 7)");

    graft_model_options_init(&options);
    options.input_height = 31;
    check_create_fails(&options, live, GRAFT_ERROR_INVALID_ARGUMENT, "32", "create(input 31 x 224)");
    graft_model_options_init(&options);
    options.input_width = 31;
    check_create_fails(&options, live, GRAFT_ERROR_INVALID_ARGUMENT, "32", "create(input 224 x 31)");

    graft_model_options_init(&options);
    options.input_height = options.input_width = 32;
    snprintf(path, sizeof path, "%s/no_such_weights.h5", fixtures);
    options.weights = path;
    check_create_fails(&options, live, GRAFT_ERROR_IO, path, "create(missing weight file)");

    snprintf(path, sizeof path, "%s/resnet50_random.h5", fixtures);
    if (check(write_truncated_copy(path, TRUNCATED_BYTES, truncated, sizeof truncated),
              "write the first %ld bytes of resnet50_random.h5 to %s", TRUNCATED_BYTES, truncated)) {
        options.weights = truncated;
        check_create_fails(&options, live, GRAFT_ERROR_FORMAT, truncated, "create(truncated weight file)");
    }
    if (truncated[0] != '\0') remove(truncated);

    snprintf(path, sizeof path, "%s/pre_100x100.f32", fixtures);
    options.weights = path;
    check_create_fails(&options, live, GRAFT_ERROR_FORMAT, path, "create(a file that is not HDF5)");

    snprintf(path, sizeof path, "%s/resnet101_random.h5", fixtures);
    options.weights = path;
    check_create_fails(&options, live, GRAFT_ERROR_FORMAT, "conv4_block7", "create(ResNet101 file into ResNet50)");

    snprintf(path, sizeof path, "%s/resnet50_bad_shape.h5", fixtures);
    options.weights = path;
    check_create_fails(&options, live, GRAFT_ERROR_FORMAT, "conv2_block1_2_conv", "create(a kernel of the wrong shape)");
    check(strstr(graft_last_error(), "(3, 3, 64, 32)") && strstr(graft_last_error(), "(3, 3, 64, 64)"),
          "the wrong-shape message names both shapes");

    /* A caller built against an older header knows fewer fields: the ones
     * beyond its struct_size must be ignored (num_threads -5 is invalid). */
    graft_model_options_init(&options);
    options.input_height = options.input_width = 32;
    options.num_threads = -5;
    options.struct_size = offsetof(graft_model_options, num_threads);
    out = NULL;
    check(graft_model_create(&options, &out) == GRAFT_OK && out != NULL,
          "create with a shorter struct_size (older header) ignores the fields beyond it");
    graft_model_free(out);
}

static void check_hostile_calls(graft_model *model, const float *pre, float *features) {
    static const int64_t bad_counts[] = {0, -1, INT64_MIN};
    int32_t height, width, channels;
    size_t i;

    check_error(graft_model_features(NULL, pre, 1, features), GRAFT_ERROR_INVALID_ARGUMENT, "model",
                "features(NULL model)");
    check_error(graft_model_features(model, NULL, 1, features), GRAFT_ERROR_INVALID_ARGUMENT, "preprocessed_nhwc",
                "features(NULL input)");
    check_error(graft_model_features(model, pre, 1, NULL), GRAFT_ERROR_INVALID_ARGUMENT, "features_out",
                "features(NULL output)");
    check_error(graft_model_image_features(model, NULL, 1, features), GRAFT_ERROR_INVALID_ARGUMENT, "images_nhwc",
                "image_features(NULL input)");
    check_error(graft_model_image_features(model, pre, 1, NULL), GRAFT_ERROR_INVALID_ARGUMENT, "features_out",
                "image_features(NULL output)");
    for (i = 0; i < sizeof bad_counts / sizeof bad_counts[0]; i++) {
        char what[64], mention[32];
        snprintf(mention, sizeof mention, "%" PRId64, bad_counts[i]);
        snprintf(what, sizeof what, "features(count %s)", mention);
        check_error(graft_model_features(model, pre, bad_counts[i], features), GRAFT_ERROR_INVALID_ARGUMENT,
                    mention, what);
        snprintf(what, sizeof what, "image_features(count %s)", mention);
        check_error(graft_model_image_features(model, pre, bad_counts[i], features),
                    GRAFT_ERROR_INVALID_ARGUMENT, mention, what);
    }
    check_error(graft_model_input_shape(NULL, &height, &width), GRAFT_ERROR_INVALID_ARGUMENT, "model",
                "input_shape(NULL model)");
    check_error(graft_model_input_shape(model, &height, NULL), GRAFT_ERROR_INVALID_ARGUMENT, "width",
                "input_shape(NULL width)");
    check_error(graft_model_feature_shape(model, NULL, &width, &channels), GRAFT_ERROR_INVALID_ARGUMENT, "height",
                "feature_shape(NULL height)");
    check_error(graft_model_feature_shape(model, &height, &width, NULL), GRAFT_ERROR_INVALID_ARGUMENT, "channels",
                "feature_shape(NULL channels)");
}

/* graft_model_set_precision: refusals leave the model as it was; bfloat16
 * (where the CPU has it) moves the features by bfloat16's rounding, about 1%
 * of their range and far more than float32's reordering, and int8 by its
 * own; float32 again gives Keras's numbers back, so the compiled network
 * was remade each time. */
static void check_precision_switch(graft_model *model, const float *pre, const float *raw, const float *out,
                                   float *features) {
    graft_status status;
    check_error(graft_model_set_precision(NULL, GRAFT_PRECISION_FLOAT32), GRAFT_ERROR_INVALID_ARGUMENT, "model",
                "set_precision(NULL model)");
    check_error(graft_model_set_precision(model, 7), GRAFT_ERROR_INVALID_ARGUMENT, "precision", "set_precision(7)");
    check(graft_model_precision(model) == GRAFT_PRECISION_FLOAT32, "a refused precision leaves FLOAT32");

    status = graft_model_set_precision(model, GRAFT_PRECISION_BFLOAT16);
    if (status == GRAFT_OK) {
        double error;
        check(graft_model_precision(model) == GRAFT_PRECISION_BFLOAT16, "precision BFLOAT16 after setting it");
        status = graft_model_features(model, pre, BATCH, features);
        error = relative_error(features, out, FEATURE_FLOATS);
        check(status == GRAFT_OK && error > TOLERANCE && error <= 0.05,
              "bfloat16 features: error %.3g of max |Keras| (between %g and 0.05)", error, TOLERANCE);
    } else {
        check_error(status, GRAFT_ERROR_INVALID_ARGUMENT, "AVX512_BF16", "set_precision(BFLOAT16) without AVX512_BF16");
        check(graft_model_precision(model) == GRAFT_PRECISION_FLOAT32, "a refused BFLOAT16 leaves FLOAT32");
    }
    check(graft_model_set_precision(model, GRAFT_PRECISION_FLOAT32) == GRAFT_OK, "set_precision(FLOAT32)");
    check_parity(model, pre, raw, out, features, "after switching back to float32");

    /* int8: refused before a calibration; calibrated on these images, it
     * moves the features by its rounding (as bfloat16 does) where the CPU has
     * AVX512_VNNI, and is refused where not. */
    check_error(graft_model_set_precision(model, GRAFT_PRECISION_INT8), GRAFT_ERROR_INVALID_ARGUMENT, "int8",
                "set_precision(INT8) before calibrate");
    check(graft_model_precision(model) == GRAFT_PRECISION_FLOAT32, "a refused INT8 leaves FLOAT32");
    check_error(graft_model_calibrate_images(NULL, raw, BATCH), GRAFT_ERROR_INVALID_ARGUMENT, "model",
                "calibrate_images(NULL model)");
    check_error(graft_model_calibrate_images(model, NULL, BATCH), GRAFT_ERROR_INVALID_ARGUMENT, "images_nhwc",
                "calibrate_images(NULL images)");
    check_error(graft_model_calibrate_images(model, raw, 0), GRAFT_ERROR_INVALID_ARGUMENT, "count",
                "calibrate_images(count 0)");
    check_error(graft_model_calibrate(model, NULL), GRAFT_ERROR_INVALID_ARGUMENT, "dataset", "calibrate(NULL dataset)");
    status = graft_model_calibrate_images(model, raw, BATCH);
    check(status == GRAFT_OK, "calibrate_images: %s", status == GRAFT_OK ? "OK" : graft_last_error());
    status = graft_model_set_precision(model, GRAFT_PRECISION_INT8);
    if (status == GRAFT_OK) {
        double error;
        check(graft_model_precision(model) == GRAFT_PRECISION_INT8, "precision INT8 after setting it");
        status = graft_model_features(model, pre, BATCH, features);
        error = relative_error(features, out, FEATURE_FLOATS);
        check(status == GRAFT_OK && error > TOLERANCE && error <= 0.05,
              "int8 features: error %.3g of max |Keras| (between %g and 0.05)", error, TOLERANCE);
    } else {
        check_error(status, GRAFT_ERROR_INVALID_ARGUMENT, "AVX512_VNNI", "set_precision(INT8) without AVX512_VNNI");
    }
    check(graft_model_set_precision(model, GRAFT_PRECISION_FLOAT32) == GRAFT_OK, "set_precision(FLOAT32)");
    check_parity(model, pre, raw, out, features, "after int8, float32 again");
}

/* A child forked after the model has run (Python's multiprocessing does
 * this) computes the same features: the worker threads the parent started
 * are not in the child, and Graft must not wait for them. */
static void check_fork(graft_model *model, const float *pre, const float *out, float *features) {
    int wstatus = 0;
    pid_t child = fork();
    if (child == 0) {
        alarm(120); /* a child that waits for a missing thread is killed */
        graft_status status = graft_model_features(model, pre, BATCH, features);
        _exit(status == GRAFT_OK && relative_error(features, out, FEATURE_FLOATS) <= TOLERANCE ? 0 : 1);
    }
    int waited = child > 0 && waitpid(child, &wstatus, 0) == child;
    check(waited && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0,
          "features in a forked child match Keras (child %s %d)",
          !waited ? "not run" : WIFSIGNALED(wstatus) ? "killed by signal" : "exited with status",
          !waited ? 0 : WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : WEXITSTATUS(wstatus));
}

/* Drains a pass: the images it gives, or -1 on an error. */
static long drain(graft_dataset *dataset, graft_dataset_iterator *iterator, float *images, int32_t *labels) {
    long total = 0;
    int64_t count = 0;
    do {
        graft_status status = iterator ? graft_dataset_iterator_next(iterator, images, labels, &count)
                                       : graft_dataset_next_batch(dataset, images, labels, &count);
        if (status != GRAFT_OK) return -1;
        total += (long)count;
    } while (count > 0);
    return total;
}

/* A dataset's passes across fork(): fork() waits for the batch being
 * prepared in the background (once, a child forked in the middle of one
 * waited for ever for a thread it did not have), so a pass the parent began
 * goes on in the child, and new passes there, the dataset's own and an
 * iterator's, give every image. Large batches and forks at several delays
 * after the pass begins, so that some catch a batch in preparation. */
static void check_dataset_fork(void) {
    enum { IMAGES = 96, PER_BATCH = 32, HW = 128 };
    size_t floats = (size_t)IMAGES * HW * HW * 3;
    float *pixels = calloc(floats, sizeof *pixels), *images = malloc((size_t)PER_BATCH * HW * HW * 3 * sizeof *images);
    int32_t labels[IMAGES], out_labels[PER_BATCH];
    graft_dataset_options options;
    graft_dataset *dataset = NULL;
    int wstatus = 0;
    for (int i = 0; i < IMAGES; i++) labels[i] = i % 2;
    graft_dataset_options_init(&options);
    options.batch_size = PER_BATCH;
    graft_status created = pixels && images
        ? graft_dataset_from_memory_float(pixels, labels, IMAGES, HW, HW, 2, &options, &dataset)
        : GRAFT_ERROR_OUT_OF_MEMORY;
    if (!check(created == GRAFT_OK, "an in-memory dataset for the fork check: %s",
               created == GRAFT_OK ? "made" : graft_last_error())) {
        free(pixels);
        free(images);
        return;
    }
    int passed = 0;
    const int rounds = 8;
    for (int round = 0; round < rounds; round++) {
        graft_dataset_begin_epoch(dataset);
        struct timespec delay = {0, round * 400000L};
        nanosleep(&delay, NULL);
        pid_t child = fork();
        if (child == 0) {
            alarm(60); /* a child that waits for a missing thread is killed */
            graft_dataset_iterator *iterator = NULL;
            int ok = drain(dataset, NULL, images, out_labels) == IMAGES;
            ok = ok && graft_dataset_begin_epoch(dataset) == GRAFT_OK
                 && drain(dataset, NULL, images, out_labels) == IMAGES;
            ok = ok && graft_dataset_iterate(dataset, &iterator) == GRAFT_OK
                 && drain(NULL, iterator, images, out_labels) == IMAGES;
            graft_dataset_iterator_free(iterator);
            _exit(ok ? 0 : 1);
        }
        int waited = child > 0 && waitpid(child, &wstatus, 0) == child;
        /* The parent's pass is undisturbed. */
        if (waited && WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0
            && drain(dataset, NULL, images, out_labels) == IMAGES) {
            passed++;
        } else {
            printf("     round %d: child %s %d\n", round,
                   !waited ? "not run" : WIFSIGNALED(wstatus) ? "killed by signal" : "exited with status",
                   !waited ? 0 : WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : WEXITSTATUS(wstatus));
        }
    }
    check(passed == rounds, "a pass begun before fork() goes on in the child and in the parent; new passes in "
          "the child give every image (%d of %d forks)", passed, rounds);
    graft_dataset_free(dataset);
    free(pixels);
    free(images);
}

int main(int argc, char **argv) {
    const char *fixtures;
    float *pre, *raw, *out, *features;
    char weights[4096];
    graft_model_options options;
    graft_model *model = NULL;
    graft_status status;

    if (argc != 2) {
        fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    fixtures = argv[1];
    pre = read_floats(fixtures, "pre_100x100.f32", IMAGE_FLOATS);
    raw = read_floats(fixtures, "raw_100x100.f32", IMAGE_FLOATS);
    out = read_floats(fixtures, "out_100x100.f32", FEATURE_FLOATS);
    features = malloc(FEATURE_FLOATS * sizeof *features);
    if (!pre || !raw || !out || !features) return 1;

    check_versions();
    check_distribution_alone();
    check_defaults();
    check_optimizer_defaults();

    graft_model_options_init(&options);
    snprintf(weights, sizeof weights, "%s/resnet50_random.h5", fixtures);
    options.weights = weights;
    options.input_height = options.input_width = SIDE;
    status = graft_model_create(&options, &model);
    if (!check(status == GRAFT_OK && model != NULL, "create ResNet50 at 100 x 100 from %s: %s %s", weights,
               status_name(status), graft_last_error())) {
        return 1;
    }
    check_shapes_and_layers(model);
    check_parity(model, pre, raw, out, features, "matches Keras");

    check_hostile_create(fixtures, model);
    check_hostile_calls(model, pre, features);
    check_parity(model, pre, raw, out, features, "after the refused calls");
    check_precision_switch(model, pre, raw, out, features);
    check_fork(model, pre, out, features);
    check_dataset_fork();

    graft_model_free(model);
    graft_model_free(NULL);
    check(1, "graft_model_free(model) and graft_model_free(NULL)");

    printf("%d checks, %d failed\n", checks, failures);
    free(pre);
    free(raw);
    free(out);
    free(features);
    return failures ? 1 : 0;
}
