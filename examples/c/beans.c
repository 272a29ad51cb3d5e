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
#include "example_support.h"  /* CHECK, the command line, the progress line */

/* --------------------------------------------------------- the workflow */

int main(int argc, char **argv) {
    arguments args = {0};
    if (!parse_arguments(argc, argv, &args, 128, 20)) return usage(argv[0]);

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
    CHECK(fit_with_progress(model, train, val, args.epochs, &history));
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
    CHECK(fit_with_progress(model, train, val, args.fine_tune_epochs, &history));
    print_history(history);

    /* loss, accuracy = model.evaluate(test) */
    double loss, accuracy;
    CHECK(evaluate_with_progress(model, test, &loss, &accuracy));
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
