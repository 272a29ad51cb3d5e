/*
 * beans.c: the beans workflow, step by step, in C.
 *
 * What a Keras user writes (the comments below quote it line by line):
 *
 *   train, val = keras.utils.image_dataset_from_directory("beans/train",
 *       image_size=(100, 100), batch_size=128, validation_split=0.25,
 *       subset="both", seed=417)
 *   base = keras.applications.ResNet50(include_top=False, weights="imagenet",
 *                                      input_shape=(100, 100, 3))
 *   inputs = keras.Input((100, 100, 3))
 *   x = keras.layers.RandomFlip("horizontal_and_vertical")(inputs)
 *   x = keras.applications.resnet.preprocess_input(x)
 *   x = base(x, training=False)
 *   x = keras.layers.GlobalAveragePooling2D()(x)
 *   outputs = keras.layers.Dense(3)(x)
 *   model = keras.Model(inputs, outputs)
 *   base.trainable = False
 *   model.compile(optimizer=keras.optimizers.Adam(),
 *                 loss=keras.losses.CategoricalCrossentropy(from_logits=True),
 *                 metrics=["accuracy"])
 *   history = model.fit(train, epochs=20, validation_data=val)
 *   base.trainable = True
 *   for layer in base.layers[:-10]:      # the last residual block trains
 *       layer.trainable = False
 *   model.compile(optimizer=keras.optimizers.Adam(1e-5), ...)
 *   history = model.fit(train, epochs=5, validation_data=val)
 *   loss, accuracy = model.evaluate(test)
 *
 * Usage:
 *   beans DATA_DIR WEIGHTS [--image-size N] [--batch-size N] [--epochs N]
 *         [--fine-tune-epochs N] [--save MODEL.h5]
 *
 *   DATA_DIR  a folder with train/ and test/ (one sub-folder of images per
 *             class in each); validation/ is used for validation when it
 *             exists, else 25% of train/ is held out (seed 417).
 *   WEIGHTS   the path of resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5,
 *             "imagenet" (that file, found in $GRAFT_WEIGHTS_DIR or
 *             ~/.keras/models; nothing is downloaded), or "random" (Keras's
 *             random initialisation).
 *   Defaults: --image-size 100 --batch-size 128 --epochs 20
 *             --fine-tune-epochs 5; --save writes the trained model, then
 *             loads it back and evaluates it again.
 *
 * Build (from the checkout, or with pkg-config after `make install`):
 *   cc -std=c99 -Iinclude examples/c/beans.c -L.build/release -lgraft -o beans
 *   cc -std=c99 examples/c/beans.c $(pkg-config --cflags --libs graft) -o beans
 */
#define _POSIX_C_SOURCE 200809L /* stat and isatty under -std=c99 */
#include <graft.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ the helpers */

/* On failure: say which call failed and why (graft_last_error()), then jump
 * to the clean-up at the end of the function, which frees whatever was
 * created. (stdout is flushed first, so the message comes after what was
 * printed before it.) */
#define CHECK(call)                                                             \
    do {                                                                        \
        if ((call) != GRAFT_OK) {                                               \
            fflush(stdout);                                                     \
            fprintf(stderr, "error: %s failed: %s\n", #call, graft_last_error()); \
            goto done;                                                          \
        }                                                                       \
    } while (0)

typedef struct arguments {
    const char *data_dir;
    const char *weights;    /* a path, "imagenet", or NULL for random weights */
    int image_size;
    int batch_size;
    int epochs;
    int fine_tune_epochs;
    const char *save_path;  /* NULL: do not save */
} arguments;

static int usage(const char *program) {
    fprintf(stderr,
            "usage: %s DATA_DIR WEIGHTS [--image-size N] [--batch-size N] [--epochs N]\n"
            "       [--fine-tune-epochs N] [--save MODEL.h5]\n"
            "WEIGHTS: a Keras ResNet50 notop .h5 file, \"imagenet\" or \"random\"\n",
            program);
    return 2;
}

/* A positive integer option value, or -1. */
static int positive(const char *text) {
    char *end;
    long value = strtol(text, &end, 10);
    return (*text != '\0' && *end == '\0' && value > 0 && value <= 1000000) ? (int)value : -1;
}

static int parse_arguments(int argc, char **argv, arguments *a) {
    int positional = 0;
    a->image_size = 100;
    a->batch_size = 128;
    a->epochs = 20;
    a->fine_tune_epochs = 5;
    a->save_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "--", 2) != 0) {
            if (positional == 0) a->data_dir = arg;
            else if (positional == 1) a->weights = strcmp(arg, "random") == 0 ? NULL : arg;
            else return 0;
            positional++;
            continue;
        }
        if (i + 1 == argc) return 0;
        const char *value = argv[++i];
        int *number = strcmp(arg, "--image-size") == 0         ? &a->image_size
                      : strcmp(arg, "--batch-size") == 0       ? &a->batch_size
                      : strcmp(arg, "--epochs") == 0           ? &a->epochs
                      : strcmp(arg, "--fine-tune-epochs") == 0 ? &a->fine_tune_epochs
                                                               : NULL;
        if (number != NULL) {
            if ((*number = positive(value)) < 0) return 0;
        } else if (strcmp(arg, "--save") == 0) {
            a->save_path = value;
        } else {
            return 0;
        }
    }
    return positional == 2;
}

/* DATA_DIR/name in `buffer`; 1 if that is a folder. */
static int sub_folder(const char *data_dir, const char *name, char *buffer, size_t size) {
    struct stat info;
    int n = snprintf(buffer, size, "%s/%s", data_dir, name);
    return n > 0 && (size_t)n < size && stat(buffer, &info) == 0 && S_ISDIR(info.st_mode);
}

/* fit and evaluate call this after every batch (and fit once more at the
 * end of each epoch, after the validation), with the `user` pointer given to
 * them: here NULL from fit, a label from evaluate. It prints a progress line,
 * redrawn in place on a terminal, that ends with the epoch's figures.
 * Returning non-zero would stop at this point (the model stays usable). */
static int show_progress(const graft_progress *p, void *user) {
    char label[32];
    int final = user == NULL ? p->epoch_end : p->step == p->steps;
    if (!final && !isatty(STDOUT_FILENO)) return 0;
    if (user == NULL) snprintf(label, sizeof label, "Epoch %d/%d", p->epoch + 1, p->epochs);
    else snprintf(label, sizeof label, "%s", (const char *)user);
    printf("\r%s  %lld/%lld  %.1fs - loss: %.4f - accuracy: %.4f", label, (long long)p->step,
           (long long)p->steps, p->elapsed_seconds, p->loss, p->accuracy);
    if (p->epoch_end && !isnan(p->val_loss))
        printf(" - val_loss: %.4f - val_accuracy: %.4f", p->val_loss, p->val_accuracy);
    printf(final ? "\n" : "");
    fflush(stdout);
    return 0;
}

/* Keras's history.history, one line per epoch. */
static void print_history(const graft_history *history) {
    printf("epoch      loss  accuracy  val_loss  val_accuracy\n");
    for (int e = 0; e < graft_history_epochs(history); e++) {
        printf("%5d  %8.4f  %8.4f  %8.4f  %12.4f\n", e + 1, graft_history_value(history, "loss", e),
               graft_history_value(history, "accuracy", e), graft_history_value(history, "val_loss", e),
               graft_history_value(history, "val_accuracy", e));
    }
}

/* --------------------------------------------------------- the workflow */

int main(int argc, char **argv) {
    arguments args = {0};
    if (!parse_arguments(argc, argv, &args)) return usage(argv[0]);

    int exit_code = 1;
    graft_dataset *train = NULL, *val = NULL, *test = NULL;
    graft_model *model = NULL, *loaded = NULL;
    graft_history *history = NULL;
    char train_dir[4096], val_dir[4096], test_dir[4096];

    printf("Graft %s\n", graft_version());
    if (!sub_folder(args.data_dir, "train", train_dir, sizeof train_dir) ||
        !sub_folder(args.data_dir, "test", test_dir, sizeof test_dir)) {
        fprintf(stderr, "error: %s must hold the folders train/ and test/\n", args.data_dir);
        return 1;
    }

    /* train, val = image_dataset_from_directory("beans/train", image_size=(100, 100),
     *     batch_size=128, validation_split=0.25, subset="both", seed=417)
     * (or, when the data has its own validation/ folder, one dataset from each) */
    graft_dataset_options data;
    graft_dataset_options_init(&data);   /* Keras's defaults: shuffle, int labels, ... */
    data.image_height = args.image_size;
    data.image_width = args.image_size;
    data.batch_size = args.batch_size;
    data.seed = 417;
    if (sub_folder(args.data_dir, "validation", val_dir, sizeof val_dir)) {
        CHECK(graft_dataset_from_directory(train_dir, &data, &train));
        CHECK(graft_dataset_from_directory(val_dir, &data, &val));
    } else {
        data.validation_split = 0.25;
        CHECK(graft_dataset_from_directory_split(train_dir, &data, &train, &val));
    }
    int num_classes = graft_dataset_class_count(train);
    printf("training: %lld images, validation: %lld images, %d classes:", (long long)graft_dataset_size(train),
           (long long)graft_dataset_size(val), num_classes);
    for (int c = 0; c < num_classes; c++) printf(" %s", graft_dataset_class_name(train, c));
    printf("\n");

    /* test = image_dataset_from_directory("beans/test", image_size=(100, 100),
     *     batch_size=128, shuffle=False) */
    data.validation_split = 0;
    data.shuffle = 0;
    CHECK(graft_dataset_from_directory(test_dir, &data, &test));

    /* base = ResNet50(include_top=False, weights=..., input_shape=(100, 100, 3))
     * (preprocess_input, caffe style, is the model's default preprocessing) */
    graft_model_options options;
    graft_model_options_init(&options);
    options.weights = args.weights;
    options.input_height = args.image_size;
    options.input_width = args.image_size;
    CHECK(graft_model_create(&options, &model));
    printf("weights: %s\n", args.weights != NULL ? args.weights : "random (Keras's initialisers)");

    /* RandomFlip("horizontal_and_vertical") -> base -> GlobalAveragePooling2D -> Dense(3) */
    graft_head_options head;
    graft_head_options_init(&head);
    head.num_classes = num_classes;
    head.pooling = GRAFT_POOLING_AVG;
    head.augmentation = GRAFT_FLIP_HORIZONTAL_AND_VERTICAL;
    CHECK(graft_model_add_head(model, &head));

    /* base.trainable = False */
    CHECK(graft_model_set_base_trainable(model, 0));

    /* model.compile(optimizer=Adam(), loss=CategoricalCrossentropy(from_logits=True),
     *               metrics=["accuracy"]) */
    graft_optimizer_options adam;
    graft_optimizer_options_init(&adam, GRAFT_OPTIMIZER_ADAM);   /* learning_rate 0.001 */
    CHECK(graft_model_compile(model, &adam));

    /* history = model.fit(train, epochs=20, validation_data=val) */
    printf("\n1. the base frozen, the head trains (Adam, learning rate %g)\n", adam.learning_rate);
    CHECK(graft_model_fit(model, train, val, args.epochs, show_progress, NULL, &history));
    print_history(history);
    graft_history_free(history);
    history = NULL;

    /* base.trainable = True
     * for layer in base.layers[:-10]:
     *     layer.trainable = False
     * The base's layers come first among the model's layers, in Keras's
     * order, so base.layers[i] is layer i; the last 10 are conv5_block3. */
    CHECK(graft_model_set_base_trainable(model, 1));
    int base_layers = graft_model_base_layer_count(model);
    for (int i = 0; i < base_layers - 10; i++) CHECK(graft_model_set_layer_trainable(model, i, 0));
    printf("\n2. fine-tuning from %s (the last 10 layers of the base) with the head\n",
           graft_model_base_layer_name(model, -10));

    /* model.compile(optimizer=Adam(1e-5), ...): recompiling starts a fresh optimizer */
    adam.learning_rate = 1e-5f;
    CHECK(graft_model_compile(model, &adam));

    /* history = model.fit(train, epochs=5, validation_data=val) */
    CHECK(graft_model_fit(model, train, val, args.fine_tune_epochs, show_progress, NULL, &history));
    print_history(history);

    /* loss, accuracy = model.evaluate(test) */
    double loss, accuracy;
    CHECK(graft_model_evaluate(model, test, show_progress, "Test", &loss, &accuracy));
    printf("\ntest: %lld images, loss %.4f, accuracy %.4f\n", (long long)graft_dataset_size(test), loss,
           accuracy);

    /* model.save("beans.h5"); then read it back (Python: graft.load_model)
     * and evaluate the copy, which computes exactly what the saved model did */
    if (args.save_path != NULL) {
        double loaded_loss, loaded_accuracy;
        CHECK(graft_model_save(model, args.save_path));
        CHECK(graft_model_load(args.save_path, 0, &loaded));
        CHECK(graft_model_evaluate(loaded, test, NULL, NULL, &loaded_loss, &loaded_accuracy));
        printf("saved the model to %s; loaded back, its test accuracy is %.4f\n", args.save_path,
               loaded_accuracy);
        if (loaded_loss != loss || loaded_accuracy != accuracy) {
            fprintf(stderr, "error: the loaded model does not compute what the saved one did\n");
            goto done;
        }
    }
    exit_code = 0;

done: /* every _free accepts NULL */
    graft_history_free(history);
    graft_model_free(loaded);
    graft_model_free(model);
    graft_dataset_free(test);
    graft_dataset_free(val);
    graft_dataset_free(train);
    return exit_code;
}
