/*
 * fruits360.c: the Fruits-360 workflow, step by step, in C.
 *
 * What a Keras user writes (the comments below quote it line by line):
 *
 *   train, val = keras.utils.image_dataset_from_directory("fruits-360/Training",
 *       label_mode="categorical", image_size=(100, 100), batch_size=256,
 *       validation_split=0.25, subset="both", seed=417)
 *   test = keras.utils.image_dataset_from_directory("fruits-360/Test",
 *       label_mode="categorical", image_size=(100, 100), batch_size=256,
 *       shuffle=False)
 *   base = keras.applications.ResNet50(include_top=False, weights="imagenet",
 *                                      input_shape=(100, 100, 3))
 *   base.trainable = False
 *   inputs = keras.Input((100, 100, 3))
 *   x = keras.applications.resnet.preprocess_input(inputs)
 *   x = base(x, training=False)
 *   x = keras.layers.GlobalAveragePooling2D()(x)
 *   outputs = keras.layers.Dense(131)(x)
 *   model = keras.Model(inputs, outputs)
 *   model.compile(optimizer=keras.optimizers.SGD(),
 *                 loss=keras.losses.CategoricalCrossentropy(from_logits=True),
 *                 metrics=["accuracy"])
 *   model.fit(train, epochs=3, validation_data=val)
 *   base.trainable = True                  # the whole base fine-tunes
 *   model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-4), ...)
 *   model.fit(train, epochs=5, validation_data=val)
 *   loss, accuracy = model.evaluate(test)
 *   logits = model.predict(images)
 *
 * Usage:
 *   fruits360 DATA_DIR WEIGHTS [--image-size N] [--batch-size N] [--epochs N]
 *             [--fine-tune-epochs N] [--save MODEL.h5]
 *
 *   DATA_DIR  a folder with Training/ and Test/ (as Fruits-360 unpacks) or
 *             train/ and test/, one sub-folder of images per class in each;
 *             25% of the training folder is held out for validation (seed 417).
 *   WEIGHTS   the path of resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5,
 *             "imagenet" (that file, found in $GRAFT_WEIGHTS_DIR or
 *             ~/.keras/models; nothing is downloaded), or "random" (Keras's
 *             random initialisation).
 *   Defaults: --image-size 100 --batch-size 256 --epochs 3
 *             --fine-tune-epochs 5; --save writes the trained model.
 *
 * Build (from the checkout, or with pkg-config after `make install`):
 *   cc -std=c99 -Iinclude examples/c/fruits360.c -L.build/release -lgraft -o fruits360
 *   cc -std=c99 examples/c/fruits360.c $(pkg-config --cflags --libs graft) -o fruits360
 */
#define _POSIX_C_SOURCE 200809L /* stat and isatty under -std=c99 */
#include "example_support.h"  /* CHECK, the command line, the progress line */

enum { PREDICTIONS = 5 };  /* test images shown with their predicted class */

/* ------------------------------------------------------------ the helpers */

/* Predicts the first test images (model.predict) and prints each file with
 * its predicted and its true class. Returns 1 on success; on failure prints
 * why and returns 0. */
static int show_predictions(graft_model *model, graft_dataset *test, int batch_size, int side) {
    int classes = graft_model_class_count(model);
    float *images = malloc(sizeof(float) * (size_t)batch_size * (size_t)side * (size_t)side * 3);
    int32_t *labels = malloc(sizeof(int32_t) * (size_t)batch_size);
    float *logits = malloc(sizeof(float) * PREDICTIONS * (size_t)classes);
    int64_t count = 0;
    int ok = 0;
    if (images == NULL || labels == NULL || logits == NULL) {
        fprintf(stderr, "error: out of memory\n");
        goto done;
    }

    /* The test dataset does not shuffle: its first batch holds its first
     * files, in graft_dataset_file_path order. */
    CHECK(graft_dataset_begin_epoch(test));
    CHECK(graft_dataset_next_batch(test, images, labels, &count));
    if (count > PREDICTIONS) count = PREDICTIONS;

    /* logits = model.predict(images): RGB pixels 0..255, preprocessing inside */
    CHECK(graft_model_predict(model, images, count, logits));
    for (int64_t i = 0; i < count; i++) {
        int best = 0;
        for (int c = 1; c < classes; c++)
            if (logits[i * classes + c] > logits[i * classes + best]) best = c;
        /* The model took its class names from the training dataset. */
        printf("  %s: %s (true: %s)\n", graft_dataset_file_path(test, i), graft_model_class_name(model, best),
               graft_dataset_class_name(test, labels[i]));
    }
    ok = 1;
done: /* CHECK jumps here too */
    free(images);
    free(labels);
    free(logits);
    return ok;
}

/* --------------------------------------------------------- the workflow */

int main(int argc, char **argv) {
    arguments args = {0};
    if (!parse_arguments(argc, argv, &args, 256, 3)) return usage(argv[0]);

    int exit_code = 1;
    graft_dataset *train = NULL, *val = NULL, *test = NULL;
    graft_model *model = NULL;
    graft_history *history = NULL;
    char train_dir[4096], test_dir[4096];

    printf("Graft %s\n", graft_version());
    if ((!sub_folder(args.data_dir, "Training", train_dir, sizeof train_dir) &&
         !sub_folder(args.data_dir, "train", train_dir, sizeof train_dir)) ||
        (!sub_folder(args.data_dir, "Test", test_dir, sizeof test_dir) &&
         !sub_folder(args.data_dir, "test", test_dir, sizeof test_dir))) {
        fprintf(stderr, "error: %s must hold the folders Training/ and Test/ (or train/ and test/)\n",
                args.data_dir);
        return 1;
    }

    /* train, val = image_dataset_from_directory("fruits-360/Training", image_size=(100, 100),
     *     batch_size=256, validation_split=0.25, subset="both", seed=417)
     * (C batches carry class indices; the loss is the same as Keras's
     * categorical cross-entropy on one-hot labels) */
    graft_dataset_options data;
    graft_dataset_options_init(&data);   /* Keras's defaults: shuffle, ... */
    data.image_height = args.image_size;
    data.image_width = args.image_size;
    data.batch_size = args.batch_size;
    data.validation_split = 0.25;
    data.seed = 417;
    CHECK(graft_dataset_from_directory_split(train_dir, &data, &train, &val));
    int num_classes = graft_dataset_class_count(train);
    printf("training: %lld images, validation: %lld images, %d classes\n", (long long)graft_dataset_size(train),
           (long long)graft_dataset_size(val), num_classes);

    /* test = image_dataset_from_directory("fruits-360/Test", image_size=(100, 100),
     *     batch_size=256, shuffle=False) */
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

    /* base -> GlobalAveragePooling2D -> Dense(131): logits, one per class */
    graft_head_options head;
    graft_head_options_init(&head);
    head.num_classes = num_classes;
    head.pooling = GRAFT_POOLING_AVG;
    CHECK(graft_model_add_head(model, &head));

    /* base.trainable = False */
    CHECK(graft_model_set_base_trainable(model, 0));

    /* model.compile(optimizer=SGD(), loss=CategoricalCrossentropy(from_logits=True),
     *               metrics=["accuracy"]) */
    graft_optimizer_options sgd;
    graft_optimizer_options_init(&sgd, GRAFT_OPTIMIZER_SGD);   /* learning_rate 0.01, momentum 0 */
    CHECK(graft_model_compile(model, &sgd));

    /* model.fit(train, epochs=3, validation_data=val) */
    printf("\n1. the base frozen, the head trains (SGD, learning rate %g)\n", sgd.learning_rate);
    CHECK(fit_with_progress(model, train, val, args.epochs, &history));
    print_history(history);
    graft_history_free(history);
    history = NULL;

    /* base.trainable = True: every layer of the base trains (its
     * BatchNormalization layers keep using their moving statistics) */
    CHECK(graft_model_set_base_trainable(model, 1));

    /* model.compile(optimizer=SGD(learning_rate=1e-4), ...): a fresh optimizer */
    sgd.learning_rate = 1e-4f;
    printf("\n2. the whole base fine-tunes (SGD, learning rate %g)\n", sgd.learning_rate);
    CHECK(graft_model_compile(model, &sgd));

    /* model.fit(train, epochs=5, validation_data=val) */
    CHECK(fit_with_progress(model, train, val, args.fine_tune_epochs, &history));
    print_history(history);

    /* loss, accuracy = model.evaluate(test) */
    double loss, accuracy;
    CHECK(evaluate_with_progress(model, test, &loss, &accuracy));
    printf("\ntest: %lld images, loss %.4f, accuracy %.4f\n", (long long)graft_dataset_size(test), loss,
           accuracy);

    /* logits = model.predict(images) */
    printf("predictions:\n");
    if (!show_predictions(model, test, args.batch_size, args.image_size)) goto done;

    /* model.save("fruits360.h5") */
    if (args.save_path != NULL) {
        CHECK(graft_model_save(model, args.save_path));
        printf("saved the model to %s\n", args.save_path);
    }
    exit_code = 0;

done: /* every _free accepts NULL */
    graft_history_free(history);
    graft_model_free(model);
    graft_dataset_free(test);
    graft_dataset_free(val);
    graft_dataset_free(train);
    return exit_code;
}
