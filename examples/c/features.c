/*
 * features.c: Graft's base as a feature extractor, from C.
 *
 * Builds ResNet50 without its top for 100x100 images, with the ImageNet
 * weights when they are found locally ($GRAFT_WEIGHTS_DIR, then Keras's cache
 * ~/.keras/models), else with Keras's random initialisation; runs it on a few
 * generated images and prints the feature shape and the time.
 *
 *   cc -std=c99 -Iinclude examples/c/features.c -L.build/release -lgraft -o features
 *   ./features [WEIGHTS.h5]
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c99 */
#include <graft.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { IMAGES = 16, SIZE = 100 };

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Smooth colour gradients with a bright disc: RGB values 0..255. */
static void generate_images(float *pixels) {
    for (int n = 0; n < IMAGES; n++) {
        float cx = (float)(n * 37 % SIZE), cy = (float)(n * 61 % SIZE);
        for (int y = 0; y < SIZE; y++) {
            for (int x = 0; x < SIZE; x++) {
                float *p = pixels + (((size_t)n * SIZE + y) * SIZE + x) * 3;
                float inside = hypotf((float)x - cx, (float)y - cy) < 20.0f ? 1.0f : 0.0f;
                p[0] = fminf(255.0f, 2.0f * (float)x + 100.0f * inside);
                p[1] = fminf(255.0f, 2.0f * (float)y + 100.0f * inside);
                p[2] = (float)((n * 16) % 256);
            }
        }
    }
}

static graft_model *create_model(const char *weights) {
    graft_model_options options;
    graft_model_options_init(&options);
    options.input_height = SIZE;
    options.input_width = SIZE;
    options.weights = weights;
    graft_model *model = NULL;
    graft_status status = graft_model_create(&options, &model);
    if (status == GRAFT_OK) {
        printf("weights: %s\n", weights);
        return model;
    }
    if (status == GRAFT_ERROR_IO && weights != NULL) {
        /* The ImageNet file is not here: say so, and carry on with random weights. */
        printf("%s\nweights: random (Keras's initialisers)\n", graft_last_error());
        options.weights = NULL;
        if (graft_model_create(&options, &model) == GRAFT_OK) return model;
    }
    fprintf(stderr, "graft_model_create: %s\n", graft_last_error());
    return NULL;
}

int main(int argc, char **argv) {
    printf("Graft %s\n", graft_version());
    graft_model *model = create_model(argc > 1 ? argv[1] : "imagenet");
    if (model == NULL) return 1;

    int32_t h, w, c;
    graft_model_feature_shape(model, &h, &w, &c);
    float *images = malloc(sizeof(float) * IMAGES * SIZE * SIZE * 3);
    float *features = malloc(sizeof(float) * IMAGES * (size_t)(h * w * c));
    if (images == NULL || features == NULL) return 1;
    generate_images(images);

    /* The first call compiles the network for the batch size; time the second. */
    graft_status status = graft_model_image_features(model, images, IMAGES, features);
    double start = now_seconds();
    if (status == GRAFT_OK) status = graft_model_image_features(model, images, IMAGES, features);
    double elapsed = now_seconds() - start;
    if (status != GRAFT_OK) {
        fprintf(stderr, "graft_model_image_features: %s\n", graft_last_error());
        return 1;
    }

    double mean = 0;
    for (size_t i = 0; i < (size_t)IMAGES * h * w * c; i++) mean += features[i];
    mean /= (double)IMAGES * h * w * c;
    printf("base: %d layers, %d images of %dx%dx3 -> features (%d, %d, %d, %d), mean %.4f\n",
           graft_model_base_layer_count(model), IMAGES, SIZE, SIZE, IMAGES, h, w, c, mean);
    printf("time: %.3f s, %.1f images/s\n", elapsed, IMAGES / elapsed);

    free(images);
    free(features);
    graft_model_free(model);
    return 0;
}
