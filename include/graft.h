/*
 * graft.h — the C interface of Graft, a ResNet transfer-learning engine.
 *
 * Conventions
 * - Every fallible function returns a graft_status; GRAFT_OK is 0. On failure
 *   graft_last_error() describes what went wrong (file, layer, shapes,
 *   argument), and every handle involved stays usable and is left as it was
 *   before the call — except graft_model_fit, whose completed batches stay
 *   applied (its description says what state a failure leaves).
 * - The caller owns every handle it creates and releases it with the
 *   matching _free function, which accepts NULL. Strings returned by the
 *   library belong to the handle they came from and stay valid until it is
 *   freed.
 * - Option structs begin with struct_size and are filled with defaults by
 *   their _init macro, which passes sizeof the caller's struct to the library:
 *   set the fields you need after calling it. Fields are only ever appended,
 *   so a program built against an older header keeps working with a newer
 *   library (which writes and reads only the fields the program knows).
 * - Threads: functions without a handle argument may be called from any
 *   thread at any time. A handle may be used from several threads; calls on
 *   one handle run one at a time. Different handles run in parallel (a
 *   dataset may feed a fit while other threads use it). The computing
 *   threads are started on first use and kept for the life of the process;
 *   between calls they sleep. A process forked after calls into Graft
 *   starts computing threads of its own; fork() waits for the batches being
 *   prepared in the background and for a parallel pass in progress, so that
 *   the child finds them finished (a pass over a dataset goes on there).
 * - Images are NHWC float32 (image after image, row after row, pixel after
 *   pixel, then channels), RGB.
 */
#ifndef GRAFT_H
#define GRAFT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Incremented whenever a change breaks programs built against an older
 * header; it is also the N of the library's SONAME, libgraft.so.N. */
#define GRAFT_ABI_VERSION 0

/* The release, "MAJOR.MINOR.PATCH": its one owner. graft_version(),
 * `graft --version`, Python's graft.__version__ (and the wheel's metadata),
 * the Swift API's Graft.version and graft.pc all read it from here. */
#define GRAFT_VERSION "0.1.0"

typedef enum graft_status {
    GRAFT_OK = 0,
    /* A NULL pointer, a count or size out of range, an unknown option. */
    GRAFT_ERROR_INVALID_ARGUMENT = 1,
    /* A file is missing or cannot be read or written. */
    GRAFT_ERROR_IO = 2,
    /* A file is readable but wrong: corrupt, truncated, of another
     * architecture, or holding a weight of the wrong shape. */
    GRAFT_ERROR_FORMAT = 3,
    /* The call does not apply to the handle in its current state. */
    GRAFT_ERROR_STATE = 4,
    GRAFT_ERROR_OUT_OF_MEMORY = 5,
    /* A bug in Graft: please report it with the message. */
    GRAFT_ERROR_INTERNAL = 6,
    /* Training met a loss that is not finite (NaN or infinite): the weights
     * are those from before the batch that produced it. */
    GRAFT_ERROR_NUMERIC = 7,
    /* A progress callback returned non-zero: the call stopped at a batch
     * boundary, every weight is from before or after a whole batch. */
    GRAFT_ERROR_CANCELLED = 8,
    /* Distributed training: another process of the group failed, died or
     * did not answer within the timeout (GRAFT_DISTRIBUTED_TIMEOUT). The
     * group cannot go on; the model's weights are those after the last step
     * every process took. */
    GRAFT_ERROR_DISTRIBUTED = 9
} graft_status;

/* A model: a ResNet base (and, later, its head and optimizer state). */
typedef struct graft_model graft_model;

/* Labelled images handed out in batches: a folder tree or arrays in memory. */
typedef struct graft_dataset graft_dataset;

/* The per-epoch metrics of one fit. */
typedef struct graft_history graft_history;

/* GRAFT_VERSION of the library actually loaded. Static storage. */
const char *graft_version(void);

/* GRAFT_ABI_VERSION of the library actually loaded. */
int graft_abi_version(void);

/* The message of the last failed call on the calling thread ("" if none).
 * Valid until the next failing call on the same thread. Never NULL. */
const char *graft_last_error(void);

/* ------------------------------------------------------------------- data */

typedef enum graft_subset {
    GRAFT_SUBSET_NONE = 0,        /* the whole folder (no validation_split) */
    GRAFT_SUBSET_TRAINING = 1,
    GRAFT_SUBSET_VALIDATION = 2
} graft_subset;

/* How labels are handed out (C batches always carry class indices; the
 * Python package formats them). */
typedef enum graft_label_mode {
    GRAFT_LABELS_INT = 0,          /* class indices */
    GRAFT_LABELS_CATEGORICAL = 1,  /* one-hot */
    GRAFT_LABELS_BINARY = 2        /* 0 or 1 as float32, (n, 1); needs exactly two classes */
} graft_label_mode;

/* Keras's interpolation methods that Graft computes, each as tf.image.resize
 * does (without antialiasing). */
typedef enum graft_interpolation {
    GRAFT_INTERPOLATION_BILINEAR = 0,
    GRAFT_INTERPOLATION_NEAREST = 1,
    GRAFT_INTERPOLATION_BICUBIC = 2,
    GRAFT_INTERPOLATION_AREA = 3,
    GRAFT_INTERPOLATION_LANCZOS3 = 4,
    GRAFT_INTERPOLATION_LANCZOS5 = 5,
    GRAFT_INTERPOLATION_GAUSSIAN = 6,
    GRAFT_INTERPOLATION_MITCHELLCUBIC = 7
} graft_interpolation;

/* The channels images are decoded to: Keras's color_mode, each as
 * tf.io.decode_image decodes it. Grayscale is libjpeg's luma of JPEGs and
 * libpng's conversion of colour PNGs with TensorFlow's weights; RGBA has an
 * opaque alpha where the file has none. As in TensorFlow, a JPEG cannot be
 * decoded to RGBA, nor a GIF or BMP to grayscale, nor a GIF to RGBA: such a
 * file is a format error when its batch is read. */
typedef enum graft_color_mode {
    GRAFT_COLOR_MODE_RGB = 0,
    GRAFT_COLOR_MODE_GRAYSCALE = 1,
    GRAFT_COLOR_MODE_RGBA = 2
} graft_color_mode;

/* Where a folder's labels come from: Keras's `labels` argument. */
typedef enum graft_label_source {
    /* One sub-folder per class (labels="inferred"). */
    GRAFT_LABEL_SOURCE_INFERRED = 0,
    /* No labels (labels=None): every image under the folder; its batches'
     * labels are 0 and it has no classes, so it cannot train or evaluate. */
    GRAFT_LABEL_SOURCE_NONE = 1,
    /* label_list: one label per image under the folder, in Keras's file
     * order (folders sorted by path, files sorted in each); the labels must
     * be 0, 1, ..., k-1, and the classes are named "0", ..., "k-1". */
    GRAFT_LABEL_SOURCE_LIST = 2
} graft_label_source;

/* The arguments of Keras's image_dataset_from_directory, with its defaults. */
typedef struct graft_dataset_options {
    size_t struct_size;
    /* Size images are resized to (bilinear, as TensorFlow); default 256 x 256.
     * Not used by graft_dataset_from_memory, whose images keep their size. */
    int32_t image_height;
    int32_t image_width;
    /* Images per batch, default 32; the last batch may be smaller. */
    int32_t batch_size;
    /* 1 (default): shuffle the listing once with the seed (numpy's
     * RandomState, as Keras, so a split selects the same files) and reshuffle
     * every pass; 0: keep the listing's order. */
    int32_t shuffle;
    /* 0..4294967295, or -1 (default) for none: a random one is drawn, and a
     * validation split with shuffling is refused, as in Keras. */
    int64_t seed;
    /* Fraction held out for validation, strictly between 0 and 1; 0 (default)
     * for no split. */
    double validation_split;
    /* A graft_subset value (with validation_split); default NONE. */
    int32_t subset;
    /* A graft_label_mode value; default GRAFT_LABELS_INT. */
    int32_t label_mode;
    /* The classes to keep, in this order (a subset of the class folders), or
     * NULL (default) for every folder in sorted order. Read during the call. */
    const char *const *class_names;
    int32_t class_names_count;
    /* 1: crop the largest centred box of the target aspect ratio before
     * resizing (Keras's crop_to_aspect_ratio); default 0. */
    int32_t crop_to_aspect_ratio;
    /* 1: follow symbolic links to folders inside class folders; default 0. */
    int32_t follow_links;
    /* 1: drop images that cannot be decoded, with a warning on stderr,
     * instead of failing the pass; default 0. */
    int32_t skip_corrupt_files;
    /* Decoding threads; 0 (default) means one per core. */
    int32_t num_threads;
    /* Images of more pixels (a GIF: its frames' pixels in all) are refused
     * before anything is allocated for them, like a corrupt file; files
     * larger than such an image can be are refused before they are read.
     * Default 89478485, PIL's Image.MAX_IMAGE_PIXELS; at least 1. */
    int64_t max_image_pixels;
    /* A graft_label_source value; default GRAFT_LABEL_SOURCE_INFERRED. With
     * any other, class_names must be NULL. */
    int32_t label_source;
    /* With GRAFT_LABEL_SOURCE_LIST: label_list_count labels (1 to 2^28), read
     * during the call; default NULL and 0. */
    const int32_t *label_list;
    int64_t label_list_count;
    /* 1: resize to fit inside the target size, aspect ratio kept, centred and
     * padded with zeros, as TensorFlow's resize_with_pad (Keras's
     * pad_to_aspect_ratio); not with crop_to_aspect_ratio. Default 0. */
    int32_t pad_to_aspect_ratio;
    /* A graft_interpolation value: how images are resized, as
     * tf.image.resize's method of that name; default
     * GRAFT_INTERPOLATION_BILINEAR. */
    int32_t interpolation;
    /* A graft_color_mode value; default GRAFT_COLOR_MODE_RGB, the only one
     * of in-memory images and the only one models take (fit, evaluate and
     * the confusion matrix refuse other datasets). */
    int32_t color_mode;
} graft_dataset_options;

/* Fills the first `struct_size` bytes of *options with the defaults above and
 * sets options->struct_size. NULL is ignored. Use the macro: */
void graft_dataset_options_init_sized(graft_dataset_options *options, size_t struct_size);
#define graft_dataset_options_init(options) \
    graft_dataset_options_init_sized((options), sizeof *(options))

/* Lists a folder with one sub-folder per class as Keras does (classes in
 * sorted order, files found recursively with extension bmp, gif, jpeg, jpg or
 * png in any case; with options->label_source NONE or LIST, every image under
 * the folder) and, with validation_split and subset, keeps one side of
 * Keras's split. Images are read when batches are requested.
 * On failure *out is NULL. Returns GRAFT_ERROR_IO (folder missing or
 * unreadable), GRAFT_ERROR_INVALID_ARGUMENT (bad option, no class folders, no
 * images, a class folder without images, a class folder or image whose name
 * is not UTF-8, class_names that are not folders, a label list that does not
 * match the images, label_mode BINARY without exactly two classes, a split
 * without a seed or leaving a side empty), with Keras's words where Keras
 * has the check. */
graft_status graft_dataset_from_directory(const char *directory, const graft_dataset_options *options,
                                          graft_dataset **out);

/* Keras's subset="both": the training and the validation subsets of one
 * listing (options->subset is ignored; validation_split is required). On
 * failure both are NULL. Statuses as graft_dataset_from_directory. */
graft_status graft_dataset_from_directory_split(const char *directory, const graft_dataset_options *options,
                                                graft_dataset **training, graft_dataset **validation);

/* A dataset of `count` RGB images of height x width (NHWC, 0..255) with
 * class indices `labels` in 0..num_classes-1; the arrays are copied. Classes
 * are named "0", "1", ... Returns GRAFT_ERROR_INVALID_ARGUMENT for NULLs,
 * counts or sizes below 1, a label out of range, or a validation split. */
graft_status graft_dataset_from_memory(const uint8_t *rgb_nhwc, const int32_t *labels, int64_t count,
                                       int32_t height, int32_t width, int32_t num_classes,
                                       const graft_dataset_options *options, graft_dataset **out);

/* As graft_dataset_from_memory, for float32 pixels (0..255). */
graft_status graft_dataset_from_memory_float(const float *rgb_nhwc, const int32_t *labels, int64_t count,
                                             int32_t height, int32_t width, int32_t num_classes,
                                             const graft_dataset_options *options, graft_dataset **out);

/* Releases a dataset. NULL is ignored. */
void graft_dataset_free(graft_dataset *dataset);

/* Images in the dataset; -1 if dataset is NULL. */
int64_t graft_dataset_size(const graft_dataset *dataset);

/* Batches in one pass; -1 if dataset is NULL. */
int64_t graft_dataset_batch_count(const graft_dataset *dataset);

/* Classes; -1 if dataset is NULL. */
int graft_dataset_class_count(const graft_dataset *dataset);

/* Name of class `index` (negative counts from the end), or NULL out of range.
 * The string belongs to the dataset. */
const char *graft_dataset_class_name(const graft_dataset *dataset, int index);

/* Path of image `index` in Keras's file_paths order (negative counts from the
 * end), or NULL out of range or for in-memory images. The string belongs to
 * the dataset. */
const char *graft_dataset_file_path(const graft_dataset *dataset, int64_t index);

/* Class index of image `index` (same order as the file paths), -1 out of range. */
int32_t graft_dataset_label(const graft_dataset *dataset, int64_t index);

/* Size of the dataset's images (what a batch holds per image: height x
 * width x graft_dataset_channels floats). Returns
 * GRAFT_ERROR_INVALID_ARGUMENT for NULLs. */
graft_status graft_dataset_image_shape(const graft_dataset *dataset, int32_t *height, int32_t *width);

/* The channels of the dataset's images: 3 (RGB), or 1 or 4 for a folder
 * listed with color_mode GRAYSCALE or RGBA; -1 if NULL. */
int32_t graft_dataset_channels(const graft_dataset *dataset);

/* Starts a new pass over the dataset (a new shuffle when shuffling); the
 * batches are decoded on worker threads ahead of graft_dataset_next_batch.
 * An unfinished pass is abandoned. Returns GRAFT_ERROR_INVALID_ARGUMENT for
 * NULL. A pass belongs to the dataset: fit and evaluate make their own and do
 * not disturb it. */
graft_status graft_dataset_begin_epoch(graft_dataset *dataset);

/* Writes the pass's next batch: up to batch_size images (NHWC float32,
 * 0..255, image_height x image_width x graft_dataset_channels: RGB unless
 * color_mode says otherwise) into `images` and their class indices
 * into `labels`, and their number into *count; *count is 0 once the pass is
 * over (and begins none by itself), and only then: with skip_corrupt_files,
 * a batch whose images were all skipped is passed over. Returns
 * GRAFT_ERROR_STATE without graft_dataset_begin_epoch, GRAFT_ERROR_FORMAT /
 * GRAFT_ERROR_IO for an image that cannot be read (naming the file; the pass
 * is then over). */
graft_status graft_dataset_next_batch(graft_dataset *dataset, float *images, int32_t *labels, int64_t *count);

/* A pass of its own over a dataset, as tf.data gives each iterator: any
 * number of iterators over one dataset run at once, each with the next
 * epoch's order, without disturbing one another or the dataset's own pass. */
typedef struct graft_dataset_iterator graft_dataset_iterator;

/* Starts a pass over `dataset` (the next epoch's shuffle when shuffling),
 * its batches decoded on worker threads ahead of graft_dataset_iterator_next.
 * The iterator keeps what it needs of the dataset: either may be freed
 * first. On failure *out is NULL; GRAFT_ERROR_INVALID_ARGUMENT for NULLs. */
graft_status graft_dataset_iterate(graft_dataset *dataset, graft_dataset_iterator **out);

/* The iterator's next batch, as graft_dataset_next_batch gives the dataset's
 * own pass's (same arguments, statuses and end of pass). Calls on one
 * iterator run one at a time; different iterators run in parallel. */
graft_status graft_dataset_iterator_next(graft_dataset_iterator *iterator, float *images, int32_t *labels,
                                         int64_t *count);

/* Releases an iterator (an unfinished pass is abandoned). NULL is ignored. */
void graft_dataset_iterator_free(graft_dataset_iterator *iterator);

/* ------------------------------------------------------------------ model */

typedef enum graft_preprocessing {
    /* keras.applications.resnet.preprocess_input: RGB to BGR, minus the
     * ImageNet channel means (B 103.939, G 116.779, R 123.68). */
    GRAFT_PREPROCESS_CAFFE = 0,
    /* pixel / 255 */
    GRAFT_PREPROCESS_RESCALE = 1,
    /* pixels pass unchanged */
    GRAFT_PREPROCESS_NONE = 2
} graft_preprocessing;

/* Number format of a model's inference products (graft_model_options). */
typedef enum graft_precision {
    /* IEEE single precision, as Keras computes. */
    GRAFT_PRECISION_FLOAT32 = 0,
    /* Both factors of each product rounded to bfloat16, sums in float32:
     * about 1.5x the images per second on CPUs with AVX512_BF16, features
     * within about 1% of float32's (README, "Speed"). Needs AVX512_BF16. */
    GRAFT_PRECISION_BFLOAT16 = 1,
    /* Each convolution's input rounded to bytes by the range calibrated for
     * it (graft_model_calibrate), its kernel to bytes by a scale per output
     * channel, products summed exactly in int32, on CPUs with AVX512_VNNI.
     * Convolutions whose input can be negative (the stem's, on preprocessed
     * pixels) stay in float32, as do the training steps. A NaN in an int8
     * convolution's input is read as 0. Set with graft_model_set_precision
     * after graft_model_calibrate (graft_model_create refuses it); a model
     * saved after a calibration keeps its ranges, so that a loaded one can
     * be set to it directly. */
    GRAFT_PRECISION_INT8 = 2
} graft_precision;

typedef struct graft_model_options {
    size_t struct_size;
    /* "resnet50" (default), "resnet101" or "resnet152". */
    const char *architecture;
    /* NULL: Keras's initialisers from `seed` (glorot-uniform kernels, zero
     * biases, identity BatchNormalization). "imagenet": the architecture's
     * standard file, e.g. resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5,
     * looked up in $GRAFT_WEIGHTS_DIR, then in Keras's cache
     * ($KERAS_HOME/models, else ~/.keras/models); Graft never downloads.
     * Anything else: the path of a Keras legacy HDF5 weight file. The string
     * is read during graft_model_create only. */
    const char *weights;
    /* Input image size, 32 to 16384 each; default 224 x 224. */
    int32_t input_height;
    int32_t input_width;
    /* A graft_preprocessing value, applied by graft_model_image_features;
     * default GRAFT_PREPROCESS_CAFFE. (int32_t: an enum's size is up to the
     * compiler.) */
    int32_t preprocessing;
    /* Seed of the random initialisation; default 0. */
    uint64_t seed;
    /* Worker threads; 0 (default) means one per core. */
    int32_t num_threads;
    /* A graft_precision value for inference: features, predictions,
     * evaluation and the frozen part of training (training steps always
     * compute in float32); default GRAFT_PRECISION_FLOAT32.
     * GRAFT_PRECISION_BFLOAT16 on a CPU without AVX512_BF16, and
     * GRAFT_PRECISION_INT8 (which needs a calibration first), make
     * graft_model_create fail with GRAFT_ERROR_INVALID_ARGUMENT. */
    int32_t precision;
} graft_model_options;

/* Fills the first `struct_size` bytes of *options with the defaults above and
 * sets options->struct_size. NULL is ignored. Use the macro: */
void graft_model_options_init_sized(graft_model_options *options, size_t struct_size);
#define graft_model_options_init(options) \
    graft_model_options_init_sized((options), sizeof *(options))

/* Builds a model. On success *out is a new handle (free it with
 * graft_model_free); on failure *out is NULL.
 * Returns GRAFT_ERROR_INVALID_ARGUMENT (NULL, bad option, input smaller than
 * 32), GRAFT_ERROR_IO (weight file missing or unreadable),
 * GRAFT_ERROR_FORMAT (not a Keras weight file of this architecture, a
 * missing layer, a weight of the wrong shape: the message names the layer and
 * both shapes), GRAFT_ERROR_OUT_OF_MEMORY. */
graft_status graft_model_create(const graft_model_options *options, graft_model **out);

/* Releases a model. NULL is ignored. The handle must not be in use. */
void graft_model_free(graft_model *model);

/* Input size of the model's images. Returns GRAFT_ERROR_INVALID_ARGUMENT for
 * NULLs. */
graft_status graft_model_input_shape(const graft_model *model, int32_t *height, int32_t *width);

/* Shape of the base's output for one image: height, width, channels
 * (4, 4, 2048 for ResNet50 at 100 x 100). Returns GRAFT_ERROR_INVALID_ARGUMENT
 * for NULLs. */
graft_status graft_model_feature_shape(const graft_model *model, int32_t *height, int32_t *width,
                                       int32_t *channels);

/* The base's output for `count` images that are already preprocessed:
 * what Keras's base(x, training=False) returns. `preprocessed_nhwc` holds
 * count x input_height x input_width x 3 floats; `features_out` receives
 * count x feature height x width x channels floats.
 * Returns GRAFT_ERROR_INVALID_ARGUMENT for NULLs or count < 1,
 * GRAFT_ERROR_OUT_OF_MEMORY. */
graft_status graft_model_features(graft_model *model, const float *preprocessed_nhwc, int64_t count,
                                  float *features_out);

/* As graft_model_features, for RGB images with pixel values 0..255: the
 * model's preprocessing is applied first. */
graft_status graft_model_image_features(graft_model *model, const float *images_nhwc, int64_t count,
                                        float *features_out);

/* The model's architecture: "resnet50", "resnet101" or "resnet152"; NULL if
 * model is NULL. The string is static. (A loaded model reports the saved one.) */
const char *graft_model_architecture(const graft_model *model);

/* The model's graft_preprocessing value; -1 if model is NULL. */
int graft_model_preprocessing(const graft_model *model);

/* Applies `preprocessing` (a graft_preprocessing value) to `pixels` RGB
 * pixels (3 floats each, 0..255), from `input` to `output` (which may be
 * `input`): keras.applications.resnet.preprocess_input for CAFFE. The one
 * implementation the models apply. Thread-safe. Returns
 * GRAFT_ERROR_INVALID_ARGUMENT for NULLs, a negative count or an unknown
 * preprocessing. */
graft_status graft_preprocess(int32_t preprocessing, const float *input, int64_t pixels, float *output);

/* The model's graft_precision value; -1 if model is NULL. (A loaded model
 * computes in float32 until graft_model_set_precision.) */
int graft_model_precision(const graft_model *model);

/* Switches the model's inference, and the frozen part of its training, to
 * `precision` (a graft_precision value; see graft_model_options): compiled
 * networks and cached features of the old one are dropped and remade on
 * use. Returns GRAFT_ERROR_INVALID_ARGUMENT for a NULL model, an unknown
 * value, GRAFT_PRECISION_BFLOAT16 on a CPU without AVX512_BF16, or
 * GRAFT_PRECISION_INT8 on a CPU without AVX512_VNNI or before
 * graft_model_calibrate; the model is then unchanged. Not while another call
 * runs on the model. */
graft_status graft_model_set_precision(graft_model *model, int32_t precision);

/* Measures the ranges GRAFT_PRECISION_INT8 rounds activations by, in
 * float32, on every image of `dataset` (one pass in its first epoch's order,
 * no augmentation; the dataset's own passes are untouched): images like
 * those the model will see, as TFLite's representative dataset; a few
 * hundred are plenty. Replaces earlier ranges; compiled networks and cached
 * features are dropped and remade on use. Returns
 * GRAFT_ERROR_INVALID_ARGUMENT for NULLs or a dataset of another image size
 * or colour mode, GRAFT_ERROR_IO for an image that cannot be read; the
 * model is then unchanged. Not while another call runs on the model or the
 * dataset. */
graft_status graft_model_calibrate(graft_model *model, graft_dataset *dataset);

/* As graft_model_calibrate, on `count` RGB images with pixel values 0..255
 * (count x input_height x input_width x 3 floats, as
 * graft_model_image_features takes them). GRAFT_ERROR_INVALID_ARGUMENT also
 * for count < 1. */
graft_status graft_model_calibrate_images(graft_model *model, const float *images_nhwc, int64_t count);

/* The base's layers, in Keras's model.layers order (175 for ResNet50:
 * layers[-10:] is the last residual block). -1 if model is NULL. */
int graft_model_base_layer_count(const graft_model *model);

/* Keras's name of base layer `index` ("conv1_conv"); a negative index
 * counts from the end, as in Python. NULL if out of range. The string
 * belongs to the model. */
const char *graft_model_base_layer_name(const graft_model *model, int index);

/* --------------------------------------------------------------- training */

typedef enum graft_pooling {
    GRAFT_POOLING_AVG = 0,       /* GlobalAveragePooling2D */
    GRAFT_POOLING_FLATTEN = 1    /* Flatten */
} graft_pooling;

typedef enum graft_flip {
    GRAFT_FLIP_NONE = 0,
    GRAFT_FLIP_HORIZONTAL = 1,
    GRAFT_FLIP_VERTICAL = 2,
    /* Both axes, drawn independently (Keras's documented meaning). */
    GRAFT_FLIP_HORIZONTAL_AND_VERTICAL = 3
} graft_flip;

/* ----------------------------------------------------------- augmentation */

/* Keras's image augmentation layers (active while training only). */
typedef enum graft_augmentation_kind {
    GRAFT_AUGMENTATION_FLIP = 0,         /* RandomFlip(mode): flip */
    GRAFT_AUGMENTATION_ROTATION = 1,     /* RandomRotation(factor, fill_mode, interpolation, fill_value) */
    GRAFT_AUGMENTATION_ZOOM = 2,         /* RandomZoom(height_factor, width_factor, fill_mode, ...) */
    GRAFT_AUGMENTATION_TRANSLATION = 3,  /* RandomTranslation(height_factor, width_factor, fill_mode, ...) */
    GRAFT_AUGMENTATION_CROP = 4,         /* RandomCrop(height, width) */
    GRAFT_AUGMENTATION_CONTRAST = 5,     /* RandomContrast(factor, value_range) */
    GRAFT_AUGMENTATION_BRIGHTNESS = 6    /* RandomBrightness(factor, value_range) */
} graft_augmentation_kind;

/* Keras's fill_mode: how a geometric layer fills what it samples from
 * outside the image. */
typedef enum graft_fill_mode {
    GRAFT_FILL_REFLECT = 0,
    GRAFT_FILL_WRAP = 1,
    GRAFT_FILL_CONSTANT = 2,
    GRAFT_FILL_NEAREST = 3
} graft_fill_mode;

/* One augmentation layer, with Keras's arguments and defaults. A factor is
 * given as Keras takes it: one number f (count 1: the range -|f|..|f| as
 * the layer's rule makes it) or a pair (count 2: a range, sorted). */
typedef struct graft_augmentation {
    size_t struct_size;
    int32_t kind;                 /* a graft_augmentation_kind; required */
    int32_t flip;                 /* FLIP: a graft_flip other than NONE; default HORIZONTAL_AND_VERTICAL */
    /* ROTATION (in turns, -1..1), CONTRAST (0..1), BRIGHTNESS (-1..1):
     * factor; ZOOM, TRANSLATION: height_factor. Required (count 0 is
     * refused). */
    float factor[2];
    int32_t factor_count;
    /* ZOOM: width_factor, count 0 (default) for Keras's None (the width
     * takes the height's zoom); TRANSLATION: width_factor, required. */
    float width_factor[2];
    int32_t width_factor_count;
    int32_t fill_mode;            /* a graft_fill_mode; default REFLECT, Keras's */
    /* GRAFT_INTERPOLATION_BILINEAR (default) or GRAFT_INTERPOLATION_NEAREST. */
    int32_t interpolation;
    float fill_value;             /* read with GRAFT_FILL_CONSTANT; default 0 */
    float value_range[2];         /* CONTRAST, BRIGHTNESS; default 0, 255 */
    int32_t height, width;        /* CROP: the window, at least 1 each; required */
} graft_augmentation;

/* Fills the defaults of `kind`. NULL is ignored. Use the macro: */
void graft_augmentation_init_sized(graft_augmentation *layer, graft_augmentation_kind kind, size_t struct_size);
#define graft_augmentation_init(layer, kind) graft_augmentation_init_sized((layer), (kind), sizeof *(layer))

/* The size of an image of height x width after the layers, in training
 * (RandomCrop's window). Returns GRAFT_ERROR_INVALID_ARGUMENT for NULLs,
 * count < 0 or a layer Keras would refuse (the message says which and why). */
graft_status graft_augmentation_output_size(const graft_augmentation *layers, int32_t count, int32_t height,
                                            int32_t width, int32_t *out_height, int32_t *out_width);

/* Applies `count` layers in order to `n` images (NHWC float32, height x
 * width x channels, channels 1 to 4) as Keras's layers do in training,
 * writing n images of graft_augmentation_output_size into `out` (which must
 * hold out_count floats, and not overlap `images`). Each image's draws are
 * a pure function of (seed, call, its index in the batch): the same
 * arguments give the same pixels; `call` numbers successive calls (Keras's
 * seed generator moves on with each). Keras's RandomCrop draws one
 * position per batch, Graft one per image. The images are shared among one
 * thread per core; any number of calls may run at once (no state is kept
 * between calls).
 * Returns GRAFT_ERROR_INVALID_ARGUMENT for NULLs, sizes below 1, an
 * out_count that does not match, or a refused layer; `out` is then
 * untouched. */
graft_status graft_augment(const graft_augmentation *layers, int32_t count, uint64_t seed, int64_t call,
                           const float *images, int64_t n, int32_t height, int32_t width, int32_t channels,
                           float *out, int64_t out_count);

/* The new head put on the base: pooling, optional hidden Dense layers with
 * ReLU (and Dropout), then Dense(num_classes) giving logits. num_classes 1
 * is Keras's binary classifier: one logit per image, trained with
 * BinaryCrossentropy(from_logits=True) on labels of two classes (0 and 1). */
typedef struct graft_head_options {
    size_t struct_size;
    /* Classes of the output layer (1: the binary head); required (default
     * 0 is refused). */
    int32_t num_classes;
    /* A graft_pooling value; default GRAFT_POOLING_AVG. */
    int32_t pooling;
    /* Sizes of hidden Dense layers, or NULL (default). Read during the call. */
    const int32_t *hidden_units;
    int32_t hidden_units_count;
    /* Dropout rate after each hidden layer (after the pooling when there is
     * none); 0 (default) for no Dropout. */
    float dropout;
    /* RandomFlip while training, a graft_flip value; default NONE (the
     * older form of augmentation_layers: set one or the other). */
    int32_t augmentation;
    /* Seed of the head's initialisation, the augmentation's draws and the
     * dropout; default 0. */
    uint64_t seed;
    /* Keras's augmentation layers, applied in this order to training images
     * only (never to validation, evaluation or prediction ones), on the
     * data pipeline's threads; NULL (default) for none. RandomCrop is
     * refused: the base fixes the images' size. Flips alone keep the
     * feature cache of a frozen base (four variants per image); any other
     * layer turns it off for training images. Read during the call. */
    const graft_augmentation *augmentation_layers;
    int32_t augmentation_layer_count;
} graft_head_options;

/* Fills the defaults above. NULL is ignored. Use the macro: */
void graft_head_options_init_sized(graft_head_options *options, size_t struct_size);
#define graft_head_options_init(options) \
    graft_head_options_init_sized((options), sizeof *(options))

/* Puts a new head on the model's base, which makes it trainable: its layers
 * become the base's then the head's (the output Dense last); its weights are
 * initialised as Keras's (glorot-uniform kernels, zero biases) from the seed.
 * Returns GRAFT_ERROR_STATE if the model has a head already,
 * GRAFT_ERROR_INVALID_ARGUMENT for NULLs or bad options (num_classes < 1,
 * hidden sizes < 1, dropout outside [0, 1), unknown pooling or flip, both
 * forms of augmentation, a layer Keras would refuse, RandomCrop). */
graft_status graft_model_add_head(graft_model *model, const graft_head_options *options);

/* All layers (base, then head); -1 if model is NULL. */
int graft_model_layer_count(const graft_model *model);

/* Name of layer `index` of all layers (negative from the end), or NULL. The
 * string belongs to the model. */
const char *graft_model_layer_name(const graft_model *model, int index);

/* Keras's base.trainable = value: every layer of the base. Cached frozen
 * features are dropped. Returns GRAFT_ERROR_INVALID_ARGUMENT for NULL. */
graft_status graft_model_set_base_trainable(graft_model *model, int trainable);

/* Keras's layer.trainable = value for layer `index` of all layers (negative
 * counts from the end, so -1 is the output Dense). A frozen layer's weights
 * never change; BatchNormalization always runs in inference mode and, when
 * trainable, trains gamma and beta only. Returns
 * GRAFT_ERROR_INVALID_ARGUMENT for NULL or an index out of range. */
graft_status graft_model_set_layer_trainable(graft_model *model, int index, int trainable);

/* 1 if layer `index` is trainable, 0 if frozen, -1 out of range or NULL. */
int graft_model_layer_trainable(const graft_model *model, int index);

/* Index of the layer called `name` among all layers, or -1. */
int graft_model_layer_index(const graft_model *model, const char *name);

/* Weight arrays of layer `index` in Keras's order (Conv2D: kernel (kh, kw,
 * in, out), bias; BatchNormalization: gamma, beta, moving_mean,
 * moving_variance; Dense: kernel (in, units), bias); -1 out of range. */
int graft_model_layer_weight_count(const graft_model *model, int index);

/* Shape of weight `weight` of layer `index`: *rank dimensions into dims
 * (at most 4). Returns GRAFT_ERROR_INVALID_ARGUMENT for NULLs or an index
 * out of range (the message says the range). */
graft_status graft_model_layer_weight_shape(const graft_model *model, int index, int weight, int32_t *rank,
                                            int64_t dims[4]);

/* Copies weight `weight` of layer `index` into `values` (count floats, which
 * must be the weight's size; the caller owns the buffer). Returns
 * GRAFT_ERROR_INVALID_ARGUMENT for NULLs, an index out of range or a count
 * that is not the weight's size (the message gives its shape). */
graft_status graft_model_get_layer_weight(const graft_model *model, int index, int weight, float *values,
                                          int64_t count);

/* Replaces weight `weight` of layer `index` with `values` (count floats, the
 * weight's size; copied); later calls use the new values and cached
 * features are dropped. Statuses as graft_model_get_layer_weight; on failure
 * the weight is unchanged. */
graft_status graft_model_set_layer_weight(graft_model *model, int index, int weight, const float *values,
                                          int64_t count);

typedef enum graft_optimizer {
    GRAFT_OPTIMIZER_SGD = 0,
    GRAFT_OPTIMIZER_ADAM = 1,
    GRAFT_OPTIMIZER_ADAMW = 2,    /* Adam with decoupled weight decay (0.004) */
    GRAFT_OPTIMIZER_RMSPROP = 3
} graft_optimizer;

/* Keras's learning-rate schedules (keras.optimizers.schedules), with its
 * arguments and formulas, evaluated per optimizer step as Keras counts them
 * (the first step takes the rate at step 0). */
typedef enum graft_schedule {
    GRAFT_SCHEDULE_EXPONENTIAL_DECAY = 1,        /* initial * decay_rate^(step / decay_steps) */
    GRAFT_SCHEDULE_PIECEWISE_CONSTANT_DECAY = 2, /* values[i] up to boundaries[i] */
    GRAFT_SCHEDULE_INVERSE_TIME_DECAY = 3,       /* initial / (1 + decay_rate * step / decay_steps) */
    GRAFT_SCHEDULE_POLYNOMIAL_DECAY = 4,         /* to end_learning_rate over decay_steps */
    GRAFT_SCHEDULE_COSINE_DECAY = 5              /* optional linear warm-up, then a half-cosine */
} graft_schedule;

/* A schedule's arguments; each kind reads its own (Keras's defaults from
 * graft_learning_rate_schedule_init: staircase 0, end_learning_rate 0.0001,
 * power 1, cycle 0, alpha 0, warmup_target NaN (none), warmup_steps 0). */
typedef struct graft_learning_rate_schedule {
    size_t struct_size;
    int32_t kind;                 /* a graft_schedule value */
    float initial_learning_rate;  /* all but piecewise constant */
    int64_t decay_steps;          /* all but piecewise constant; > 0 */
    float decay_rate;             /* exponential, inverse time */
    int32_t staircase;            /* exponential, inverse time: floor step / decay_steps */
    float end_learning_rate;      /* polynomial */
    float power;                  /* polynomial */
    int32_t cycle;                /* polynomial */
    float alpha;                  /* cosine: the final rate as a fraction */
    float warmup_target;          /* cosine: NaN for no warm-up */
    int64_t warmup_steps;         /* cosine */
    const int64_t *boundaries;    /* piecewise constant: values_count - 1 increasing steps */
    const float *values;          /* piecewise constant: values_count rates */
    int64_t values_count;
} graft_learning_rate_schedule;

/* Fills the defaults of `kind`. NULL is ignored. Use the macro: */
void graft_learning_rate_schedule_init_sized(graft_learning_rate_schedule *schedule, graft_schedule kind,
                                             size_t struct_size);
#define graft_learning_rate_schedule_init(schedule, kind) \
    graft_learning_rate_schedule_init_sized((schedule), (kind), sizeof *(schedule))

/* The rate of step `step` (0-based) into *rate. Thread-safe. Returns
 * GRAFT_ERROR_INVALID_ARGUMENT for NULLs, a negative step, or arguments
 * Keras refuses (decay_steps <= 0, boundaries and values that do not pair
 * up) or that cannot train (rates that are not finite). */
graft_status graft_learning_rate_schedule_value(const graft_learning_rate_schedule *schedule, int64_t step,
                                                float *rate);

/* Keras 3's optimizers and their defaults: SGD (learning_rate 0.01,
 * momentum 0, nesterov 0); Adam (learning_rate 0.001, beta_1 0.9, beta_2
 * 0.999, epsilon 1e-7); AdamW (Adam's, weight_decay 0.004); RMSprop
 * (learning_rate 0.001, rho 0.9, momentum 0, epsilon 1e-7, centered 0).
 * Every optimizer takes Keras's decoupled weight decay (each step first
 * w -= w * weight_decay * learning_rate) and one kind of gradient clipping
 * at most: clipnorm (per tensor), global_clipnorm (over every gradient of
 * the step), clipvalue (per element); 0 means none. */
typedef struct graft_optimizer_options {
    size_t struct_size;
    int32_t kind;            /* a graft_optimizer value */
    float learning_rate;     /* used when learning_rate_schedule is NULL */
    float momentum;          /* SGD, RMSprop */
    int32_t nesterov;        /* SGD */
    double beta_1;           /* Adam, AdamW */
    double beta_2;           /* Adam, AdamW */
    float epsilon;           /* Adam, AdamW, RMSprop */
    double rho;              /* RMSprop */
    int32_t centered;        /* RMSprop */
    float weight_decay;
    float clipnorm;
    float global_clipnorm;
    float clipvalue;
    /* A schedule instead of learning_rate, or NULL; read (copied) by
     * graft_model_compile. */
    const graft_learning_rate_schedule *learning_rate_schedule;
} graft_optimizer_options;

/* Fills the defaults of `kind`. NULL is ignored. Use the macro: */
void graft_optimizer_options_init_sized(graft_optimizer_options *options, graft_optimizer kind,
                                        size_t struct_size);
#define graft_optimizer_options_init(options, kind) \
    graft_optimizer_options_init_sized((options), (kind), sizeof *(options))

/* Sets the optimizer with fresh state (recompiling resets it, as in Keras).
 * Returns GRAFT_ERROR_INVALID_ARGUMENT for NULLs, an unknown kind, a learning
 * rate that is not finite and positive, momentum, betas or rho outside
 * [0, 1), an epsilon that is not positive, a negative weight decay or
 * clipping threshold, more than one kind of clipping, or an invalid
 * schedule; GRAFT_ERROR_STATE without a head. On failure the previous
 * optimizer stays. */
graft_status graft_model_compile(graft_model *model, const graft_optimizer_options *options);

/* The loss, Keras's cross-entropy from the head's logits, the mean over the
 * batch: SparseCategoricalCrossentropy(from_logits=True) on class indices,
 * or CategoricalCrossentropy(from_logits=True, label_smoothing) on one-hot
 * labels (which carry the same classes; the datasets hold indices); for the
 * binary head (num_classes 1), BinaryCrossentropy(from_logits=True,
 * label_smoothing) on labels 0 and 1. And the metrics fit and evaluate
 * report beside accuracy. */
typedef struct graft_loss_options {
    size_t struct_size;
    float label_smoothing;   /* e in [0, 1]: the target (1 - e) * one-hot + e / classes
                              * (e / 2 for the binary head); 0 */
    /* k >= 1: also report Keras's top-k accuracy, the fraction of images
     * whose class is among the k largest logits (classes tied at the k-th
     * place all count, as tf.math.in_top_k; not weighted by class or sample
     * weights, as Keras's metrics are not); 0: not (the default). */
    int32_t top_k;
    /* Its name in the history and the progress text ("val_" + name for the
     * validation figure); NULL: "sparse_top_k_categorical_accuracy" (pass
     * "top_k_categorical_accuracy", Keras's name for one-hot labels). */
    const char *top_k_name;
    /* The binary head's accuracy counts an image as class 1 when its logit
     * is above this: Keras's BinaryAccuracy(threshold=0.5) compares the
     * model's output, which is the logit; 0 is a probability of one half.
     * Finite; default 0.5. Unused by heads of several classes. */
    float binary_threshold;
} graft_loss_options;

/* Fills the defaults. NULL is ignored. Use the macro: */
void graft_loss_options_init_sized(graft_loss_options *options, size_t struct_size);
#define graft_loss_options_init(options) graft_loss_options_init_sized((options), sizeof *(options))

/* graft_model_compile with the loss's options (graft_model_compile uses
 * the defaults). Also returns GRAFT_ERROR_INVALID_ARGUMENT for a
 * label_smoothing outside [0, 1], a negative top_k (or any top_k on the
 * binary head), a top_k_name that is empty, starts with "val_" or is
 * "loss", "accuracy" or "learning_rate", or a binary_threshold that is not
 * finite. */
graft_status graft_model_compile_with_loss(graft_model *model, const graft_optimizer_options *options,
                                           const graft_loss_options *loss);

/* The compiled optimizer as Keras's keras.optimizers.serialize gives it,
 * in JSON ({"module": "keras.optimizers", "class_name": "Adam", "config":
 * {"name": "adam", "learning_rate": 0.001, ...}, "registered_name": null},
 * a schedule nested in the same form): what a model loaded from a file was
 * compiled with. Sized as graft_model_summary. Returns GRAFT_ERROR_STATE
 * when not compiled, GRAFT_ERROR_INVALID_ARGUMENT for NULL model or a buffer
 * too small (nothing written). */
graft_status graft_model_optimizer_config(graft_model *model, char *buffer, size_t capacity, size_t *needed);

/* The name of the top-k accuracy the model was compiled with (its
 * graft_loss_options.top_k_name, or the one saved in the file it was loaded
 * from); NULL when it has none, without a head, or if NULL. The string
 * belongs to the model and stays valid until it is compiled again. */
const char *graft_model_top_k_name(graft_model *model);

/* The learning rate of the optimizer's next step (a schedule's at the steps
 * taken so far) into *rate. Returns GRAFT_ERROR_INVALID_ARGUMENT for NULLs,
 * GRAFT_ERROR_STATE when the model is not compiled. */
graft_status graft_model_learning_rate(graft_model *model, float *rate);

/* Sets a constant learning rate, keeping the optimizer's state (Keras's
 * `optimizer.learning_rate = rate`, e.g. between two fits). Returns
 * GRAFT_ERROR_STATE when the model is not compiled or its rate is a
 * schedule (as Keras refuses it), GRAFT_ERROR_INVALID_ARGUMENT for a rate
 * that is not finite and positive; the rate is then unchanged. */
graft_status graft_model_set_learning_rate(graft_model *model, float rate);

/* Optimizer steps taken since compile (Keras's `optimizer.iterations`); -1
 * if NULL or not compiled. */
int64_t graft_model_optimizer_iterations(graft_model *model);

/* The most images a training step computes at once. A larger batch runs in
 * parts (micro-batches), forward and backward each in turn, their gradients
 * summed before one optimizer step: the step of the whole batch (only the
 * order of the sums differs, as BatchNormalization stays in inference mode),
 * in the memory of one part; loss, accuracy and progress still count whole
 * batches. 0 (the default) lets the engine choose from the activations each
 * image keeps (about 1 GiB of them per part). Returns
 * GRAFT_ERROR_INVALID_ARGUMENT for a negative size, GRAFT_ERROR_STATE
 * without a head. */
graft_status graft_model_set_micro_batch_size(graft_model *model, int64_t size);

/* The size set by graft_model_set_micro_batch_size (0: the engine's choice);
 * -1 if NULL or without a head. */
int64_t graft_model_micro_batch_size(const graft_model *model);

/* Progress after each batch of fit or evaluate, and (fit only) once more at
 * the end of each epoch, after its validation: then epoch_end is 1, loss and
 * accuracy are the epoch's figures, and val_loss and val_accuracy hold the
 * validation figures (NaN without validation data, and in every other
 * report). The library owns the struct; it is valid during the call only. */
typedef struct graft_progress {
    int32_t epoch;           /* 0-based */
    int32_t epochs;
    int64_t step;            /* 1-based, within the epoch */
    int64_t steps;
    double loss;             /* running means over the epoch so far */
    double accuracy;
    double elapsed_seconds;  /* since fit or evaluate began */
    int32_t epoch_end;
    double val_loss;
    double val_accuracy;
    /* The top-k accuracy (running mean; its validation figure at an epoch's
     * end) when compiled with one (graft_loss_options.top_k), else NaN.
     * graft_progress_printer_report reads them only from a printer given
     * the metric's name (graft_progress_printer_set_top_k_name). */
    double top_k_accuracy;
    double val_top_k_accuracy;
} graft_progress;

/* Return non-zero to stop at this batch boundary (or epoch end). Called on
 * the thread that called fit or evaluate. A call on the same model from
 * inside the callback fails with GRAFT_ERROR_STATE (calls on one model run
 * one at a time; it would wait for itself); other handles may be used. */
typedef int (*graft_progress_fn)(const graft_progress *progress, void *user);

/* Trains for `epochs` passes over `train` (categorical cross-entropy from
 * logits, accuracy), evaluating on `validation` (may be NULL) after each.
 * While the whole base is frozen, its output is computed once per image (and
 * flip variant) and reused in later epochs. On GRAFT_OK, *history holds the
 * per-epoch figures (free with graft_history_free); if `progress` stopped the
 * fit, it holds the completed epochs and graft_history_stopped() is 1.
 * Returns GRAFT_ERROR_STATE (no head, not compiled, nothing trainable),
 * GRAFT_ERROR_INVALID_ARGUMENT (NULLs, epochs < 0, datasets whose image size or
 * class count differ from the model's), GRAFT_ERROR_NUMERIC (a loss that is
 * not finite: the weights are those from before that batch), image errors
 * from the datasets (GRAFT_ERROR_FORMAT too for an epoch in which a dataset
 * that skips unreadable files gave no image at all). On failure *history is
 * NULL. */
graft_status graft_model_fit(graft_model *model, graft_dataset *train, graft_dataset *validation, int epochs,
                             graft_progress_fn progress, void *user, graft_history **history);

/* ------------------------------------------------------------- callbacks */

/* Keras's callbacks for graft_model_fit_with_options, with Keras's names,
 * arguments, defaults and decisions (one instance of each). */

/* Which way a monitored quantity improves (Keras's `mode`): AUTO knows the
 * losses (down) and the accuracies (up). */
typedef enum graft_monitor_mode {
    GRAFT_MONITOR_AUTO = 0,
    GRAFT_MONITOR_MIN = 1,
    GRAFT_MONITOR_MAX = 2
} graft_monitor_mode;

/* EarlyStopping: stop when `monitor` ("loss", "accuracy", "val_loss",
 * "val_accuracy") has not improved by min_delta for `patience` epochs
 * (counting from start_from_epoch); with restore_best_weights, the weights
 * of the best epoch are put back when the fit ends. Its state starts afresh
 * with every fit. */
typedef struct graft_early_stopping {
    int32_t enabled;
    const char *monitor;           /* "val_loss" */
    int32_t mode;                  /* a graft_monitor_mode */
    double min_delta;              /* 0 */
    int32_t patience;              /* 0 */
    double baseline;               /* NaN: none */
    int32_t restore_best_weights;  /* 0 */
    int32_t start_from_epoch;      /* 0 */
} graft_early_stopping;

/* ReduceLROnPlateau: the learning rate times `factor` (not below min_lr)
 * after `patience` epochs without improvement, then `cooldown` epochs before
 * counting again. The rate must be a constant (not a schedule). */
typedef struct graft_reduce_lr_on_plateau {
    int32_t enabled;
    const char *monitor;           /* "val_loss" */
    int32_t mode;
    double min_delta;              /* 1e-4 */
    double factor;                 /* 0.1; below 1 */
    int32_t patience;              /* 10 */
    int32_t cooldown;              /* 0 */
    double min_lr;                 /* 0 */
} graft_reduce_lr_on_plateau;

/* ModelCheckpoint: after each epoch, saves the model (graft_model_save) to
 * `filepath` formatted as Python's str.format with the epoch (1-based) and
 * the epoch's figures ("best-{epoch:02d}-{val_loss:.2f}.h5"); with
 * save_best_only, only when `monitor` improved (the best is kept from one
 * fit to the next, as Keras keeps it). The path must end in ".keras" or
 * ".h5" (or, with graft_fit_options.checkpoint_save_weights_only,
 * ".weights.h5"). */
typedef struct graft_model_checkpoint {
    const char *filepath;          /* NULL: no checkpoints */
    const char *monitor;           /* "val_loss" */
    int32_t mode;
    int32_t save_best_only;        /* 0 */
    double initial_value_threshold; /* NaN: none */
} graft_model_checkpoint;

/* What the epoch callbacks see, and may change. */
typedef struct graft_epoch_state {
    int32_t epoch;                 /* 0-based */
    int32_t epochs;
    /* The epoch's figures at its end (NaN where there are none, and at its
     * beginning). */
    double loss;
    double accuracy;
    double val_loss;
    double val_accuracy;
    /* The next step's learning rate: set it to change a constant rate
     * (Keras's LearningRateScheduler, in on_epoch_begin). */
    float learning_rate;
    /* Set to 1 to stop after this epoch (Keras's model.stop_training). */
    int32_t stop_training;
    /* The top-k accuracy at the epoch's end, when compiled with one
     * (graft_loss_options.top_k); NaN otherwise. */
    double top_k_accuracy;
    double val_top_k_accuracy;
} graft_epoch_state;

/* An epoch callback. Return non-zero to stop the fit at once
 * (GRAFT_ERROR_CANCELLED); set state->stop_training to end it after this
 * epoch, normally. Called on the thread that called fit. At an epoch's
 * beginning and end the model is between steps: calls on the same model
 * (weights, evaluate, save, ...) may be made from inside, except another fit
 * and graft_model_free. */
typedef int (*graft_epoch_fn)(graft_epoch_state *state, void *user);

typedef struct graft_fit_options {
    size_t struct_size;
    int32_t epochs;                /* 1: train up to this epoch index */
    int32_t initial_epoch;         /* 0: start at this epoch index (resuming) */
    graft_early_stopping early_stopping;
    graft_reduce_lr_on_plateau reduce_lr_on_plateau;
    graft_model_checkpoint checkpoint;
    /* CSVLogger: one row per epoch written to this path (NULL: none), as
     * Keras writes it; csv_append keeps what the file holds. */
    const char *csv_logger;
    int32_t csv_append;            /* 0 */
    /* TerminateOnNaN: a loss that is not finite ends the fit there (that
     * epoch, its loss NaN, is the last) instead of failing it. */
    int32_t terminate_on_nan;      /* 0 */
    /* Called before each epoch and after each epoch (after its validation,
     * before the built-in callbacks); either may be NULL. */
    graft_epoch_fn on_epoch_begin;
    graft_epoch_fn on_epoch_end;
    void *callback_user;
    /* 1: the history records each epoch's final learning rate
     * ("learning_rate"), as Keras's does with a LearningRateScheduler (set
     * it when on_epoch_begin schedules the rate); ReduceLROnPlateau always
     * records it. */
    int32_t log_learning_rate;     /* 0 */
    /* Keras's class_weight: one weight per class (class_weight_count is the
     * head's class count, 2 for the binary head), each image's loss scaled by its class's, the sum
     * divided by the batch size; NULL (and 0) for none. */
    const float *class_weight;
    int32_t class_weight_count;
    /* Keras's sample_weight: one weight per training image, in the
     * dataset's order (sample_weight_count is its image count), each
     * image's loss scaled by it; NULL (and 0) for none. Not with
     * class_weight, as in Keras. */
    const float *sample_weight;
    int64_t sample_weight_count;
    /* Keras's steps_per_epoch: an epoch is this many batches, taken from
     * the dataset's passes laid end to end; an epoch ends early where a
     * pass ends, and the next starts a new pass (10 batches, 4 per epoch:
     * epochs of 4, 4, 2, 4, ... batches), as Keras 3 does. 0: one pass. */
    int32_t steps_per_epoch;       /* 0 */
    /* ModelCheckpoint's save_weights_only: 1 writes the weights alone in
     * Keras 3's .weights.h5 format (graft_model_save_weights), 0 the model. */
    int32_t checkpoint_save_weights_only; /* 0 */
} graft_fit_options;

/* Fills Keras's defaults (no callback enabled). NULL is ignored. Use the
 * macro: */
void graft_fit_options_init_sized(graft_fit_options *options, size_t struct_size);
#define graft_fit_options_init(options) graft_fit_options_init_sized((options), sizeof *(options))

/* graft_model_fit with Keras's fit arguments and callbacks: trains from
 * epoch initial_epoch up to epochs (so initial_epoch 3, epochs 5 runs epochs
 * 3 and 4, with their shuffles and flips, as a fit that never stopped would;
 * epochs <= initial_epoch trains nothing). Statuses as graft_model_fit, and
 * GRAFT_ERROR_INVALID_ARGUMENT for callback options Keras refuses (a factor
 * of 1 or more, a checkpoint path not ending in ".keras" or ".h5", a monitor whose
 * direction AUTO cannot tell, an unknown mode), GRAFT_ERROR_STATE when
 * ReduceLROnPlateau or an epoch callback changes a scheduled learning rate,
 * GRAFT_ERROR_IO when a checkpoint or the CSV log cannot be written,
 * GRAFT_ERROR_CANCELLED when an epoch callback returned non-zero (the
 * weights are those of the last whole step; *history is NULL). */
graft_status graft_model_fit_with_options(graft_model *model, graft_dataset *train, graft_dataset *validation,
                                          const graft_fit_options *options, graft_progress_fn progress, void *user,
                                          graft_history **history);

/* The history functions read a history that nothing else changes: they may
 * be called from any thread. */

/* Epochs recorded; -1 if NULL. */
int graft_history_epochs(const graft_history *history);

/* "loss", "accuracy", "val_loss", "val_accuracy", the top-k accuracy's name
 * (and "val_" + it) when compiled with one, or (when a callback logged it)
 * "learning_rate" of the history's epoch `epoch` (0 for the first one
 * recorded, whatever the fit's initial epoch); NaN if there is no such
 * metric or epoch. */
double graft_history_value(const graft_history *history, const char *metric, int epoch);

/* The epoch index of the history's first epoch (the fit's initial_epoch);
 * -1 if NULL. */
int graft_history_initial_epoch(const graft_history *history);

/* A built-in callback's state at the end of the fit, by Keras's attribute
 * name after the callback's: "early_stopping.stopped_epoch",
 * "early_stopping.best_epoch", "early_stopping.wait", "early_stopping.best",
 * "reduce_lr_on_plateau.wait", "reduce_lr_on_plateau.cooldown_counter",
 * "reduce_lr_on_plateau.best", "checkpoint.best" (pass it as the next fit's
 * checkpoint.initial_value_threshold to keep the best across fits, as
 * Keras's ModelCheckpoint does). NaN when the callback did not run, the fit
 * was stopped by its progress callback, or Keras's value is None. */
double graft_history_callback_state(const graft_history *history, const char *name);

/* 1 if a progress callback stopped the fit, else 0. */
int graft_history_stopped(const graft_history *history);

/* Releases a history. NULL is ignored. */
void graft_history_free(graft_history *history);

/* Mean loss and accuracy over a dataset (no augmentation, no dropout), into
 * *loss and *accuracy. The model's weights are not changed. Returns
 * GRAFT_ERROR_STATE without a head, GRAFT_ERROR_INVALID_ARGUMENT (NULLs, a
 * dataset whose image size, class count or class names differ from the
 * model's, an empty dataset), GRAFT_ERROR_CANCELLED if `progress` asked to
 * stop, image errors from the dataset (GRAFT_ERROR_FORMAT too when a dataset
 * that skips unreadable files gave no image at all). */
graft_status graft_model_evaluate(graft_model *model, graft_dataset *dataset, graft_progress_fn progress,
                                  void *user, double *loss, double *accuracy);

/* graft_model_evaluate with every figure it measures (loss, accuracy, and
 * the top-k accuracy when compiled with one) as a history of one epoch,
 * in *metrics: read them with graft_history_value(*metrics, "loss", 0),
 * free it with graft_history_free. Statuses as graft_model_evaluate; on
 * failure *metrics is NULL. */
graft_status graft_model_evaluate_metrics(graft_model *model, graft_dataset *dataset, graft_progress_fn progress,
                                          void *user, graft_history **metrics);

/* The confusion matrix of the model on `dataset` (no augmentation, no
 * dropout): matrix[i * classes + j] counts the images of class i that the
 * model predicts as class j (the first largest logit; for the binary head,
 * 1 when the logit is above the compiled binary_threshold), as
 * tf.math.confusion_matrix does; `count` must be classes squared, classes
 * being num_classes, or 2 for the binary head.
 * Statuses as graft_model_evaluate (GRAFT_ERROR_INVALID_ARGUMENT for a wrong
 * count too). */
graft_status graft_model_confusion_matrix(graft_model *model, graft_dataset *dataset, int64_t *matrix,
                                          int64_t count);

/* The outputs (count x num_classes floats into `logits_out`, which the
 * caller owns) for RGB images with pixel values 0..255 (count x
 * input_height x input_width x 3), preprocessing inside; as Keras's
 * predict, no dropout and no augmentation. They are logits, except for a
 * model read from Keras whose output Dense has softmax or sigmoid, which
 * gives what Keras gives: probabilities. Returns GRAFT_ERROR_STATE without a head,
 * GRAFT_ERROR_INVALID_ARGUMENT for NULLs or count < 1. */
graft_status graft_model_predict(graft_model *model, const float *images_nhwc, int64_t count,
                                 float *logits_out);

/* ---------------------------------------------------------------- classes */

/* Names the model's output classes (count must equal the head's
 * num_classes, or 2 for the binary head); strings are copied. When the model has no names,
 * graft_model_fit adopts those of a training dataset read from class folders;
 * a folder dataset whose names differ from the model's is then refused by fit
 * and evaluate. In-memory datasets' classes are numbered, not named ("0",
 * "1", ...): they neither set the model's names nor are checked against
 * them. Returns GRAFT_ERROR_STATE without a head,
 * GRAFT_ERROR_INVALID_ARGUMENT for NULLs or a wrong count. */
graft_status graft_model_set_class_names(graft_model *model, const char *const *names, int32_t count);

/* The head's number of output classes (its logits per image: 1 for the
 * binary head); 0 without a head, -1 if NULL. */
int graft_model_class_count(const graft_model *model);

/* Name of output class `index` (0 and 1 for the binary head), or NULL when
 * out of range or unnamed. The
 * string belongs to the model and stays valid until the names change. */
const char *graft_model_class_name(const graft_model *model, int index);

/* The output Dense's activation: "linear" (logits: every head Graft builds),
 * or "softmax" or "sigmoid" for a model read from Keras with one there, whose
 * graft_model_predict gives probabilities and which Keras trains with
 * from_logits=False. NULL without a head. The string is static. */
const char *graft_model_output_activation(const graft_model *model);

/* ------------------------------------------------------ progress output */

/* Keras's progress output as text, the one implementation that the `graft`
 * command and the Python package print too. The caller writes the text
 * where it likes (stdout, a log, a notebook). Times are seconds on
 * CLOCK_MONOTONIC (Python's time.monotonic()); a negative time means "now".
 * `dynamic` says whether the stream can redraw a line with carriage returns
 * (a terminal): then verbose 1 redraws the bar in place, else it writes each
 * finished line once. Returned text belongs to the handle and stays valid
 * until the next call on it; it may be "" (nothing to write). A handle may
 * be used from one thread at a time. */

/* What fit and evaluate print (Keras's `verbose` 0, 1 or 2): "Epoch 3/20"
 * lines and one bar per epoch for a fit (epochs >= 1), one bar for an
 * evaluation (epochs 0). Feed it every graft_progress report of the call. */
typedef struct graft_progress_printer graft_progress_printer;

/* Returns GRAFT_ERROR_INVALID_ARGUMENT for NULL `out`, verbose outside 0..2 or
 * epochs < 0. `start_seconds`: when the call began. */
graft_status graft_progress_printer_create(int32_t verbose, int32_t epochs, double start_seconds,
                                           graft_progress_printer **out);

/* The text for one report, in *text. */
graft_status graft_progress_printer_report(graft_progress_printer *printer, const graft_progress *report,
                                           int32_t dynamic, double now_seconds, const char **text);

/* Shows the top-k accuracy of the reports (their top_k_accuracy and
 * val_top_k_accuracy fields) under `name`, as Keras's bar shows a compiled
 * metric; NULL stops showing it. Returns GRAFT_ERROR_INVALID_ARGUMENT for a
 * NULL printer or a name that is not UTF-8. */
graft_status graft_progress_printer_set_top_k_name(graft_progress_printer *printer, const char *name);

/* A line the printer writes before a fit's first `Epoch` line, at verbose 1
 * and 2: the fit's feature cache note (graft_model_feature_cache_note);
 * NULL or "" for none. Returns GRAFT_ERROR_INVALID_ARGUMENT for a NULL
 * printer or a note that is not UTF-8. */
graft_status graft_progress_printer_set_note(graft_progress_printer *printer, const char *note);

/* The text that ends a line left open when the call returned early
 * (stopped, failed): "\n" or "". */
graft_status graft_progress_printer_end(graft_progress_printer *printer, const char **text);

/* NULL is ignored. */
void graft_progress_printer_free(graft_progress_printer *printer);

/* Keras's `keras.utils.Progbar`: one pass of `target` steps drawn as
 * "12/199 ━━━━━━━━━━━━━━━━━━━━ 3s 41ms/step - accuracy: 0.8125 - loss: 0.6312".
 * width 0 and interval < 0 take Keras's defaults (20 characters, 0.05 s). */
typedef struct graft_progbar graft_progbar;

/* Returns GRAFT_ERROR_INVALID_ARGUMENT for NULL `out`, target < 0, verbose
 * outside 0..2 or width < 0. */
graft_status graft_progbar_create(int64_t target, int32_t verbose, int32_t width, double interval,
                                  double start_seconds, graft_progbar **out);

/* Step `current` with `count` named figures (running means, in display
 * order); finalize 1 ends the pass's line, 0 does not, -1 when current >=
 * target. The text to write in *text. */
graft_status graft_progbar_update(graft_progbar *bar, int64_t current, const char *const *names,
                                  const double *values, int32_t count, int32_t finalize, int32_t dynamic,
                                  double now_seconds, const char **text);

/* The text that ends a line left open by a pass that stopped early. */
graft_status graft_progbar_close(graft_progbar *bar, const char **text);

/* NULL is ignored. */
void graft_progbar_free(graft_progbar *bar);

/* ------------------------------------------------------------ history text */

/* One epoch's figures, for graft_history_text. */
typedef struct graft_epoch_figures {
    const char *phase;      /* e.g. "frozen", "fine-tune"; NULL or "" for none */
    double loss;
    double accuracy;
    double val_loss;        /* NaN without validation data */
    double val_accuracy;
} graft_epoch_figures;

/* The text forms of graft_history_text. */
typedef enum graft_history_format {
    GRAFT_HISTORY_TABLE = 0,  /* one line per epoch, Keras's figures, to print */
    GRAFT_HISTORY_CSV = 1,    /* epoch,phase,loss,accuracy,val_loss,val_accuracy */
    GRAFT_HISTORY_SVG = 2     /* accuracy and loss per epoch, a dashed line where a phase begins */
} graft_history_format;

/* `count` epochs of one or more fits (in order; the phase names where one
 * fit ends and the next begins) as text, the one implementation the graft
 * command and the Python package use too. Fill the figures from
 * graft_history_value. Sized as graft_model_summary: *needed (if not NULL)
 * gets the bytes with the terminating NUL; the text is written when
 * `capacity` holds them; buffer NULL only asks the size. Returns
 * GRAFT_ERROR_INVALID_ARGUMENT for NULL epochs with count > 0, count < 0, an
 * unknown format, a phase that is not UTF-8, or a buffer too small (nothing
 * written). Safe from any thread. */
graft_status graft_history_text(const graft_epoch_figures *epochs, int64_t count, int32_t format, char *buffer,
                                size_t capacity, size_t *needed);

/* ---------------------------------------------------------------- summary */

/* What graft_model_summary prints, with Keras's defaults from
 * graft_summary_options_init. */
typedef struct graft_summary_options {
    size_t struct_size;
    /* The model's name on the first line; NULL (default) for "functional". */
    const char *name;
    /* Total width; 0 (default) for Keras's (108, 120 with show_trainable),
     * at most terminal_columns - 4. */
    int32_t line_length;
    /* Columns of the terminal printed to; 0 (default) when unknown. */
    int32_t terminal_columns;
    /* Where each column ends, as fractions of the width; NULL (default) for
     * Keras's 0.3, 0.56, 0.74, 1.0. Read during the call. */
    const double *positions;
    int32_t positions_count;
    /* 1 adds a "Trainable" column; default 0. */
    int32_t show_trainable;
    /* 1: the base's layers only (Keras's base.summary()); default 0, every
     * layer of the model. */
    int32_t base_only;
} graft_summary_options;

/* Fills the defaults above. NULL is ignored. Use the macro: */
void graft_summary_options_init_sized(graft_summary_options *options, size_t struct_size);
#define graft_summary_options_init(options) \
    graft_summary_options_init_sized((options), sizeof *(options))

/* Keras's `model.summary()` as text (UTF-8, no final newline), the one
 * implementation that the graft command and the Python package print too:
 * every layer with its type, output shape, parameter count and inputs, then
 * the totals (BatchNormalization's moving statistics and a frozen layer's
 * weights are non-trainable). *needed (if not NULL) gets the bytes the text
 * takes with its terminating NUL; the text is written to `buffer` when
 * `capacity` holds that many. buffer NULL only asks the size. Returns
 * GRAFT_ERROR_INVALID_ARGUMENT for a NULL model or options, a buffer too
 * small (nothing written), or a width too narrow for the columns. */
graft_status graft_model_summary(const graft_model *model, const graft_summary_options *options, char *buffer,
                                 size_t capacity, size_t *needed);

/* What a fit of a model with augmentation layers, as its layers are frozen
 * now, does with the output of the frozen layers that come first, in the
 * line the graft command prints before the first epoch: "Feature cache: on:
 * ..." (computed once per image and flip, with flips alone), "Feature
 * cache: off ..." (a layer other than RandomFlip draws new images every
 * epoch); "" without augmentation (the cache is then on, and the progress
 * output is Keras's) or when no frozen layers come first. Copied as
 * graft_model_summary copies its text. Returns GRAFT_ERROR_INVALID_ARGUMENT
 * for a NULL model or a buffer too small, GRAFT_ERROR_STATE for a model
 * without a head. */
graft_status graft_model_feature_cache_note(const graft_model *model, char *buffer, size_t capacity,
                                            size_t *needed);

/* Keras's class name of layer `index` (negative from the end): "InputLayer",
 * "Conv2D", "BatchNormalization", "Activation", "Add", "ZeroPadding2D",
 * "MaxPooling2D", "GlobalAveragePooling2D", "Flatten", "Dense", "Dropout";
 * NULL out of range. The string is static. */
const char *graft_model_layer_class(const graft_model *model, int index);

/* Output shape of layer `index` for one image (no batch axis): *rank
 * dimensions into dims, at most 4 (conv1_conv at 100 x 100: 50, 50, 64). */
graft_status graft_model_layer_output_shape(const graft_model *model, int index, int32_t *rank,
                                            int64_t dims[4]);

/* Number of layers that feed layer `index` (0 for the input layer, 2 for an
 * Add); -1 out of range. */
int graft_model_layer_input_count(const graft_model *model, int index);

/* Index (among all layers) of input `k` of layer `index`; -1 out of range. */
int graft_model_layer_input(const graft_model *model, int index, int k);

/* ---------------------------------------------------------- save and load */

/* Writes the model to one file at `path`, its format chosen by the
 * extension as Keras chooses it. ".keras": Keras 3's archive (config.json,
 * metadata.json, model.weights.h5), the model as Keras's transfer-learning
 * guide builds it (input, augmentation layers, preprocess_input or
 * Rescaling, the base nested with training=False, the head), which
 * keras.models.load_model opens. Any other path (".h5"): Keras's full-model
 * HDF5 layout (attribute model_config, the weights under /model_weights, the
 * base nested as one group), which keras.models.load_model opens and the
 * guide's model takes with load_weights, plus Graft's own attributes in group
 * "graft": architecture, input size, preprocessing, head options,
 * augmentation, class names, each layer's trainable flag, and the optimizer:
 * its options, its
 * step count and its slots (moments), the slots in Keras's layout (group
 * "optimizer_weights", listed by its attribute weight_names), so that a
 * loaded model fitted from the next epoch (graft_fit_options.initial_epoch)
 * trains bit for bit as the saved one would have.
 * Atomic: the file is written beside `path` under a temporary name, flushed
 * to disk, renamed over it and the folder flushed, so a failed or
 * interrupted save leaves any previous file intact (temporary files left by a
 * process killed during a save are removed by the next save to that path).
 * A symbolic link is written through: the file it points to is replaced, the
 * link kept. Returns GRAFT_ERROR_STATE without a head, GRAFT_ERROR_IO when
 * the folder is missing or not writable, the disk is full, or `path` is (or
 * links to) anything but a regular file (a folder, a FIFO or a device, left
 * untouched) or is a dangling link; GRAFT_ERROR_INVALID_ARGUMENT for
 * NULLs. The model is unchanged. */
graft_status graft_model_save(const graft_model *model, const char *path);

/* The model's weights alone in Keras 3's format, what Keras's
 * model.save_weights writes and model.load_weights reads: `path` must end in
 * ".weights.h5"; the base is nested as one layer, as Keras's
 * transfer-learning guide builds the model (base_model(x, training=False)).
 * Written atomically as graft_model_save. Returns GRAFT_ERROR_STATE without
 * a head, GRAFT_ERROR_INVALID_ARGUMENT for NULLs or another suffix,
 * GRAFT_ERROR_IO as graft_model_save. The model is unchanged. */
graft_status graft_model_save_weights(const graft_model *model, const char *path);

/* Sets every weight of the model from `path`: a ".weights.h5" file from
 * Keras's model.save_weights (the base nested or flat) or from
 * graft_model_save_weights, a full-model ".h5" (Keras's model.save or
 * graft_model_save, the base nested or flat), or a legacy ".h5" holding every
 * layer by name (Keras's legacy save_weights). Returns
 * GRAFT_ERROR_STATE without a head, GRAFT_ERROR_IO for a missing or
 * unreadable file, GRAFT_ERROR_FORMAT for a file that lacks a layer or holds
 * a weight of another shape, GRAFT_ERROR_INVALID_ARGUMENT for NULLs or
 * another suffix. On failure no weight has changed. */
graft_status graft_model_load_weights(graft_model *model, const char *path);

/* Reads a model written by graft_model_save: it predicts exactly as the
 * saved one did and, if that was compiled, has its optimizer, state
 * included (files written before Graft saved the state get a fresh one); it
 * computes in float32. Also reads a model Keras 3 saved (model.save to a
 * ".keras" archive or a full-model ".h5") when Graft can build it: a
 * ResNet50/101/152 base, nested or flat, with or without its top; before it
 * Keras's augmentation layers and preprocess_input (caffe), Rescaling(1/255)
 * or nothing; after it GlobalAveragePooling2D or Flatten, hidden Dense layers
 * with ReLU (each followed by the same Dropout, or one Dropout after the
 * pooling) and the output Dense: logits, or softmax or sigmoid (see
 * graft_model_predict). Such a model is not
 * compiled; its trainable flags are Keras's. num_threads 0 means one per
 * core. On success *out is a new handle; on failure NULL. Returns
 * GRAFT_ERROR_IO (missing or unreadable file), GRAFT_ERROR_FORMAT (not HDF5
 * nor a zip archive, corrupt, a weights file alone, or a Keras model with a
 * layer Graft does not build: the message names the layer),
 * GRAFT_ERROR_INVALID_ARGUMENT for NULLs. */
graft_status graft_model_load(const char *path, int32_t num_threads, graft_model **out);

/* ----------------------------------------------------------- distribution */

/* Joins the group of processes a launcher started (`mpirun -np N program`):
 * from then on graft_model_fit and graft_model_evaluate are data-parallel
 * over the group. Every process must create the same model and datasets
 * (same files, seed and batch_size, which is the global batch) and make the
 * same calls; each takes its shard of every batch, the group sums the
 * gradients (while the backward pass goes on) and the figures, and every
 * process takes the steps and reports the figures one process would with
 * the whole batch. Only rank 0 prints progress; write files from rank 0 only
 * (graft_distribution_rank). BatchNormalization trains in inference mode, so
 * nothing else is shared.
 *
 * The transport is libgraft_mpi.so (Open MPI), loaded now from beside
 * libgraft.so (or the library GRAFT_COMM_ENGINE names). Outside a launcher
 * this does nothing: one process, as without the call. Later calls return
 * GRAFT_OK and keep the first group. `timeout_seconds`: how long a
 * collective waits for the other processes before failing with
 * GRAFT_ERROR_DISTRIBUTED; 0 means GRAFT_DISTRIBUTED_TIMEOUT's value, else
 * 300. Returns GRAFT_ERROR_DISTRIBUTED when the engine cannot be loaded or
 * started, GRAFT_ERROR_INVALID_ARGUMENT for a negative or non-finite
 * timeout. Any thread. */
graft_status graft_distribution_initialize(double timeout_seconds);

/* This process's rank in the group, 0 ..< graft_distribution_size(); 0
 * without a group. Any thread. */
int32_t graft_distribution_rank(void);

/* The processes of the group; 1 without one. Any thread. */
int32_t graft_distribution_size(void);

/* Returns once every process of the group has called it (say, after rank 0
 * wrote a file the others read); GRAFT_OK at once without a group. Returns
 * GRAFT_ERROR_DISTRIBUTED when another process does not call it within the
 * timeout, or the group failed earlier. Any thread. */
graft_status graft_distribution_barrier(void);

#ifdef __cplusplus
}
#endif

#endif /* GRAFT_H */
