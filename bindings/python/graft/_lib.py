"""Loading libgraft and declaring its C interface (the contract is include/graft.h).

The library is looked up, in order, at:
1. $GRAFT_LIBRARY, if set (and then nowhere else);
2. libgraft.so next to this package;
3. the release build of the checkout this package sits in
   (bindings/python/graft/../../../.build/release/libgraft.so);
4. the system's libgraft.so.N (N = ABI_VERSION) on the dynamic linker's path
   (LD_LIBRARY_PATH, /etc/ld.so.conf, e.g. after `make install`), else
   whatever ctypes.util.find_library("graft") reports.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import Any, Callable, NoReturn

from .errors import GraftError, Status, error_for

# GRAFT_ABI_VERSION of the graft.h these declarations mirror.
ABI_VERSION = 0

LIBRARY_FILE = "libgraft.so"
# The SONAME of the library these bindings were written for.
SONAME = f"libgraft.so.{ABI_VERSION}"
PACKAGE_DIR = Path(__file__).resolve().parent
# bindings/python/graft -> the checkout's root, when the package sits in one.
_CHECKOUT = PACKAGE_DIR.parent.parent.parent
CHECKOUT_BUILD = _CHECKOUT / ".build" / "release"

# graft_preprocessing, by the names the Python API uses.
PREPROCESSING = {"caffe": 0, "rescale": 1, "none": 2}
# graft_precision, by the names the Python API uses.
PRECISION = {"float32": 0, "bfloat16": 1, "int8": 2}


class graft_model_options(ctypes.Structure):
    """struct graft_model_options, field by field."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("architecture", ctypes.c_char_p),
        ("weights", ctypes.c_char_p),
        ("input_height", ctypes.c_int32),
        ("input_width", ctypes.c_int32),
        ("preprocessing", ctypes.c_int32),  # a graft_preprocessing value
        ("seed", ctypes.c_uint64),
        ("num_threads", ctypes.c_int32),
        ("precision", ctypes.c_int32),  # a graft_precision value
    ]


class graft_dataset_options(ctypes.Structure):
    """struct graft_dataset_options, field by field."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("image_height", ctypes.c_int32),
        ("image_width", ctypes.c_int32),
        ("batch_size", ctypes.c_int32),
        ("shuffle", ctypes.c_int32),
        ("seed", ctypes.c_int64),
        ("validation_split", ctypes.c_double),
        ("subset", ctypes.c_int32),
        ("label_mode", ctypes.c_int32),
        ("class_names", ctypes.POINTER(ctypes.c_char_p)),
        ("class_names_count", ctypes.c_int32),
        ("crop_to_aspect_ratio", ctypes.c_int32),
        ("follow_links", ctypes.c_int32),
        ("skip_corrupt_files", ctypes.c_int32),
        ("num_threads", ctypes.c_int32),
        ("max_image_pixels", ctypes.c_int64),
        ("label_source", ctypes.c_int32),  # a graft_label_source value
        ("label_list", ctypes.POINTER(ctypes.c_int32)),
        ("label_list_count", ctypes.c_int64),
        ("pad_to_aspect_ratio", ctypes.c_int32),
        ("interpolation", ctypes.c_int32),  # a graft_interpolation value
        ("color_mode", ctypes.c_int32),  # a graft_color_mode value
    ]


class graft_head_options(ctypes.Structure):
    """struct graft_head_options, field by field."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("num_classes", ctypes.c_int32),
        ("pooling", ctypes.c_int32),
        ("hidden_units", ctypes.POINTER(ctypes.c_int32)),
        ("hidden_units_count", ctypes.c_int32),
        ("dropout", ctypes.c_float),
        ("augmentation", ctypes.c_int32),
        ("seed", ctypes.c_uint64),
        ("augmentation_layers", ctypes.c_void_p),  # const graft_augmentation *
        ("augmentation_layer_count", ctypes.c_int32),
    ]


class graft_learning_rate_schedule(ctypes.Structure):
    """struct graft_learning_rate_schedule, field by field."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("kind", ctypes.c_int32),
        ("initial_learning_rate", ctypes.c_float),
        ("decay_steps", ctypes.c_int64),
        ("decay_rate", ctypes.c_float),
        ("staircase", ctypes.c_int32),
        ("end_learning_rate", ctypes.c_float),
        ("power", ctypes.c_float),
        ("cycle", ctypes.c_int32),
        ("alpha", ctypes.c_float),
        ("warmup_target", ctypes.c_float),
        ("warmup_steps", ctypes.c_int64),
        ("boundaries", ctypes.POINTER(ctypes.c_int64)),
        ("values", ctypes.POINTER(ctypes.c_float)),
        ("values_count", ctypes.c_int64),
    ]


class graft_optimizer_options(ctypes.Structure):
    """struct graft_optimizer_options, field by field."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("kind", ctypes.c_int32),
        ("learning_rate", ctypes.c_float),
        ("momentum", ctypes.c_float),
        ("nesterov", ctypes.c_int32),
        ("beta_1", ctypes.c_double),
        ("beta_2", ctypes.c_double),
        ("epsilon", ctypes.c_float),
        ("rho", ctypes.c_double),
        ("centered", ctypes.c_int32),
        ("weight_decay", ctypes.c_float),
        ("clipnorm", ctypes.c_float),
        ("global_clipnorm", ctypes.c_float),
        ("clipvalue", ctypes.c_float),
        ("learning_rate_schedule", ctypes.POINTER(graft_learning_rate_schedule)),
    ]


class graft_early_stopping(ctypes.Structure):
    """struct graft_early_stopping, field by field."""

    _fields_ = [
        ("enabled", ctypes.c_int32),
        ("monitor", ctypes.c_char_p),
        ("mode", ctypes.c_int32),
        ("min_delta", ctypes.c_double),
        ("patience", ctypes.c_int32),
        ("baseline", ctypes.c_double),
        ("restore_best_weights", ctypes.c_int32),
        ("start_from_epoch", ctypes.c_int32),
    ]


class graft_reduce_lr_on_plateau(ctypes.Structure):
    """struct graft_reduce_lr_on_plateau, field by field."""

    _fields_ = [
        ("enabled", ctypes.c_int32),
        ("monitor", ctypes.c_char_p),
        ("mode", ctypes.c_int32),
        ("min_delta", ctypes.c_double),
        ("factor", ctypes.c_double),
        ("patience", ctypes.c_int32),
        ("cooldown", ctypes.c_int32),
        ("min_lr", ctypes.c_double),
    ]


class graft_model_checkpoint(ctypes.Structure):
    """struct graft_model_checkpoint, field by field."""

    _fields_ = [
        ("filepath", ctypes.c_char_p),
        ("monitor", ctypes.c_char_p),
        ("mode", ctypes.c_int32),
        ("save_best_only", ctypes.c_int32),
        ("initial_value_threshold", ctypes.c_double),
    ]


class graft_epoch_state(ctypes.Structure):
    """struct graft_epoch_state, field by field."""

    _fields_ = [
        ("epoch", ctypes.c_int32),
        ("epochs", ctypes.c_int32),
        ("loss", ctypes.c_double),
        ("accuracy", ctypes.c_double),
        ("val_loss", ctypes.c_double),
        ("val_accuracy", ctypes.c_double),
        ("learning_rate", ctypes.c_float),
        ("stop_training", ctypes.c_int32),
        ("top_k_accuracy", ctypes.c_double),  # NaN without a top-k accuracy
        ("val_top_k_accuracy", ctypes.c_double),
    ]


EPOCH_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(graft_epoch_state), ctypes.c_void_p)


class graft_fit_options(ctypes.Structure):
    """struct graft_fit_options, field by field."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("epochs", ctypes.c_int32),
        ("initial_epoch", ctypes.c_int32),
        ("early_stopping", graft_early_stopping),
        ("reduce_lr_on_plateau", graft_reduce_lr_on_plateau),
        ("checkpoint", graft_model_checkpoint),
        ("csv_logger", ctypes.c_char_p),
        ("csv_append", ctypes.c_int32),
        ("terminate_on_nan", ctypes.c_int32),
        ("on_epoch_begin", EPOCH_FN),
        ("on_epoch_end", EPOCH_FN),
        ("callback_user", ctypes.c_void_p),
        ("log_learning_rate", ctypes.c_int32),
        ("class_weight", ctypes.POINTER(ctypes.c_float)),
        ("class_weight_count", ctypes.c_int32),
        ("sample_weight", ctypes.POINTER(ctypes.c_float)),
        ("sample_weight_count", ctypes.c_int64),
        ("steps_per_epoch", ctypes.c_int32),  # 0: one pass per epoch
        ("checkpoint_save_weights_only", ctypes.c_int32),
    ]


class graft_augmentation(ctypes.Structure):
    """struct graft_augmentation, field by field."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("kind", ctypes.c_int32),  # a graft_augmentation_kind value
        ("flip", ctypes.c_int32),  # a graft_flip value
        ("factor", ctypes.c_float * 2),
        ("factor_count", ctypes.c_int32),
        ("width_factor", ctypes.c_float * 2),
        ("width_factor_count", ctypes.c_int32),
        ("fill_mode", ctypes.c_int32),  # a graft_fill_mode value
        ("interpolation", ctypes.c_int32),  # GRAFT_INTERPOLATION_BILINEAR or _NEAREST
        ("fill_value", ctypes.c_float),
        ("value_range", ctypes.c_float * 2),
        ("height", ctypes.c_int32),
        ("width", ctypes.c_int32),
    ]


class graft_loss_options(ctypes.Structure):
    """struct graft_loss_options, field by field."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("label_smoothing", ctypes.c_float),
        ("top_k", ctypes.c_int32),  # 0: no top-k accuracy
        ("top_k_name", ctypes.c_char_p),
        ("binary_threshold", ctypes.c_float),
    ]


# graft_monitor_mode, by Keras's names.
MONITOR_MODE = {"auto": 0, "min": 1, "max": 2}


class graft_epoch_figures(ctypes.Structure):
    """struct graft_epoch_figures, field by field."""

    _fields_ = [
        ("phase", ctypes.c_char_p),
        ("loss", ctypes.c_double),
        ("accuracy", ctypes.c_double),
        ("val_loss", ctypes.c_double),
        ("val_accuracy", ctypes.c_double),
    ]


class graft_summary_options(ctypes.Structure):
    """struct graft_summary_options, field by field."""

    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("name", ctypes.c_char_p),
        ("line_length", ctypes.c_int32),
        ("terminal_columns", ctypes.c_int32),
        ("positions", ctypes.POINTER(ctypes.c_double)),
        ("positions_count", ctypes.c_int32),
        ("show_trainable", ctypes.c_int32),
        ("base_only", ctypes.c_int32),
    ]


class graft_progress(ctypes.Structure):
    """struct graft_progress, field by field."""

    _fields_ = [
        ("epoch", ctypes.c_int32),
        ("epochs", ctypes.c_int32),
        ("step", ctypes.c_int64),
        ("steps", ctypes.c_int64),
        ("loss", ctypes.c_double),
        ("accuracy", ctypes.c_double),
        ("elapsed_seconds", ctypes.c_double),
        # 1 in fit's end-of-epoch report, made after the epoch's validation.
        ("epoch_end", ctypes.c_int32),
        ("val_loss", ctypes.c_double),  # NaN but in an end-of-epoch report with validation data
        ("val_accuracy", ctypes.c_double),
        ("top_k_accuracy", ctypes.c_double),  # NaN without a top-k accuracy
        ("val_top_k_accuracy", ctypes.c_double),
    ]


PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(graft_progress), ctypes.c_void_p)

# graft_pooling, graft_flip and graft_optimizer, by Keras's names.
POOLING = {"avg": 0, "flatten": 1}
FLIP = {None: 0, "horizontal": 1, "vertical": 2, "horizontal_and_vertical": 3}
# graft_augmentation_kind, by Keras's class names, and graft_fill_mode, by Keras's names.
AUGMENTATION_KIND = {"RandomFlip": 0, "RandomRotation": 1, "RandomZoom": 2, "RandomTranslation": 3, "RandomCrop": 4,
                     "RandomContrast": 5, "RandomBrightness": 6}
FILL_MODE = {"reflect": 0, "wrap": 1, "constant": 2, "nearest": 3}
OPTIMIZER = {"sgd": 0, "adam": 1, "adamw": 2, "rmsprop": 3}
# graft_schedule, by Keras's class names.
SCHEDULE = {"ExponentialDecay": 1, "PiecewiseConstantDecay": 2, "InverseTimeDecay": 3, "PolynomialDecay": 4,
            "CosineDecay": 5}

# graft_subset, graft_label_mode and graft_label_source, by Keras's names.
SUBSET = {None: 0, "training": 1, "validation": 2}
LABEL_MODE = {"int": 0, "categorical": 1, "binary": 2}
LABEL_SOURCE = {"inferred": 0, None: 1, "list": 2}
# graft_interpolation, by Keras's names, in Keras's order.
INTERPOLATION = {"bilinear": 0, "nearest": 1, "bicubic": 2, "area": 3, "lanczos3": 4, "lanczos5": 5, "gaussian": 6,
                 "mitchellcubic": 7}
# graft_color_mode, by Keras's names.
COLOR_MODE = {"rgb": 0, "grayscale": 1, "rgba": 2}


def _open(path: str, origin: str) -> ctypes.CDLL:
    """dlopen `path`, turning a failure into an ImportError that says why."""
    try:
        # CDLL, not PyDLL: the GIL is released during every call, so other
        # Python threads run while the library computes.
        return ctypes.CDLL(path)
    except OSError as error:
        raise ImportError(f"graft: cannot load {origin} {path}: {error}") from error


def _load() -> ctypes.CDLL:
    """Find and load libgraft (see the module docstring for the order)."""
    override = os.environ.get("GRAFT_LIBRARY")
    if override:
        return _open(override, "$GRAFT_LIBRARY")
    candidates = [PACKAGE_DIR / LIBRARY_FILE]
    if (_CHECKOUT / "Package.swift").is_file():
        candidates.append(CHECKOUT_BUILD / LIBRARY_FILE)
    for candidate in candidates:
        if candidate.is_file():
            return _open(str(candidate), "the library")
    # Installed on the system: the dynamic linker finds the SONAME.
    try:
        return ctypes.CDLL(SONAME)
    except OSError:
        pass
    found = ctypes.util.find_library("graft")
    if found:
        return _open(found, "the system's library")
    looked = ", ".join(str(c) for c in candidates)
    raise ImportError(
        f"graft: {LIBRARY_FILE} not found; looked at $GRAFT_LIBRARY (not set), {looked}, "
        f"and for {SONAME} on the system's library path. Build it with `make build` in the "
        "Graft checkout (or install it with `make install`), or set GRAFT_LIBRARY to the "
        "path of libgraft.so.")


def _declare(lib: ctypes.CDLL) -> None:
    """Give every function of graft.h its C signature.

    Without argtypes ctypes would pass Python ints as C int, truncating
    pointers and int64 counts. Buffers are plain void pointers (an array's
    .ctypes.data): models.py checks shapes and dtypes itself, and ndpointer
    would repeat that work on every call.
    """
    status = ctypes.c_int  # enum graft_status
    handle = ctypes.c_void_p  # graft_model *
    int32_p = ctypes.POINTER(ctypes.c_int32)
    signatures = {
        "graft_version": ([], ctypes.c_char_p),
        "graft_abi_version": ([], ctypes.c_int),
        "graft_last_error": ([], ctypes.c_char_p),
        "graft_model_options_init_sized": ([ctypes.POINTER(graft_model_options), ctypes.c_size_t], None),
        "graft_model_create": ([ctypes.POINTER(graft_model_options), ctypes.POINTER(handle)], status),
        "graft_model_free": ([handle], None),
        "graft_model_input_shape": ([handle, int32_p, int32_p], status),
        "graft_model_feature_shape": ([handle, int32_p, int32_p, int32_p], status),
        "graft_model_features": ([handle, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p], status),
        "graft_model_image_features": ([handle, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p], status),
        "graft_model_architecture": ([handle], ctypes.c_char_p),
        "graft_model_preprocessing": ([handle], ctypes.c_int),
        "graft_model_precision": ([handle], ctypes.c_int),
        "graft_model_set_precision": ([handle, ctypes.c_int32], status),
        "graft_model_calibrate": ([handle, ctypes.c_void_p], status),
        "graft_model_calibrate_images": ([handle, ctypes.c_void_p, ctypes.c_int64], status),
        "graft_model_base_layer_count": ([handle], ctypes.c_int),
        "graft_model_base_layer_name": ([handle, ctypes.c_int], ctypes.c_char_p),
        "graft_head_options_init_sized": ([ctypes.POINTER(graft_head_options), ctypes.c_size_t], None),
        "graft_model_add_head": ([handle, ctypes.POINTER(graft_head_options)], status),
        "graft_model_layer_count": ([handle], ctypes.c_int),
        "graft_model_layer_name": ([handle, ctypes.c_int], ctypes.c_char_p),
        "graft_model_set_base_trainable": ([handle, ctypes.c_int], status),
        "graft_model_set_layer_trainable": ([handle, ctypes.c_int, ctypes.c_int], status),
        "graft_model_layer_trainable": ([handle, ctypes.c_int], ctypes.c_int),
        "graft_optimizer_options_init_sized": ([ctypes.POINTER(graft_optimizer_options), ctypes.c_int,
                                                ctypes.c_size_t], None),
        "graft_model_compile": ([handle, ctypes.POINTER(graft_optimizer_options)], status),
        "graft_preprocess": ([ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p], status),
        "graft_loss_options_init_sized": ([ctypes.POINTER(graft_loss_options), ctypes.c_size_t], None),
        "graft_model_compile_with_loss": ([handle, ctypes.POINTER(graft_optimizer_options),
                                           ctypes.POINTER(graft_loss_options)], status),
        "graft_learning_rate_schedule_init_sized": ([ctypes.POINTER(graft_learning_rate_schedule), ctypes.c_int,
                                                     ctypes.c_size_t], None),
        "graft_learning_rate_schedule_value": ([ctypes.POINTER(graft_learning_rate_schedule), ctypes.c_int64,
                                                ctypes.POINTER(ctypes.c_float)], status),
        "graft_model_learning_rate": ([handle, ctypes.POINTER(ctypes.c_float)], status),
        "graft_model_set_learning_rate": ([handle, ctypes.c_float], status),
        "graft_model_optimizer_iterations": ([handle], ctypes.c_int64),
        "graft_model_top_k_name": ([handle], ctypes.c_char_p),
        "graft_model_save_weights": ([handle, ctypes.c_char_p], status),
        "graft_model_load_weights": ([handle, ctypes.c_char_p], status),
        "graft_model_optimizer_config": ([handle, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)],
                                         status),
        "graft_model_fit": ([handle, handle, handle, ctypes.c_int, PROGRESS_FN, ctypes.c_void_p,
                             ctypes.POINTER(handle)], status),
        "graft_fit_options_init_sized": ([ctypes.POINTER(graft_fit_options), ctypes.c_size_t], None),
        "graft_model_fit_with_options": ([handle, handle, handle, ctypes.POINTER(graft_fit_options), PROGRESS_FN,
                                          ctypes.c_void_p, ctypes.POINTER(handle)], status),
        "graft_history_initial_epoch": ([handle], ctypes.c_int),
        "graft_history_callback_state": ([handle, ctypes.c_char_p], ctypes.c_double),
        "graft_history_epochs": ([handle], ctypes.c_int),
        "graft_history_value": ([handle, ctypes.c_char_p, ctypes.c_int], ctypes.c_double),
        "graft_history_stopped": ([handle], ctypes.c_int),
        "graft_history_free": ([handle], None),
        "graft_model_evaluate": ([handle, handle, PROGRESS_FN, ctypes.c_void_p, ctypes.POINTER(ctypes.c_double),
                                  ctypes.POINTER(ctypes.c_double)], status),
        "graft_model_evaluate_metrics": ([handle, handle, PROGRESS_FN, ctypes.c_void_p, ctypes.POINTER(handle)],
                                         status),
        "graft_model_predict": ([handle, ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p], status),
        "graft_model_confusion_matrix": ([handle, handle, ctypes.POINTER(ctypes.c_int64), ctypes.c_int64], status),
        "graft_model_layer_index": ([handle, ctypes.c_char_p], ctypes.c_int),
        "graft_model_layer_weight_count": ([handle, ctypes.c_int], ctypes.c_int),
        "graft_model_layer_weight_shape": ([handle, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int32),
                                            ctypes.POINTER(ctypes.c_int64)], status),
        "graft_model_get_layer_weight": ([handle, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int64],
                                         status),
        "graft_model_set_layer_weight": ([handle, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_int64],
                                         status),
        "graft_dataset_options_init_sized": ([ctypes.POINTER(graft_dataset_options), ctypes.c_size_t], None),
        "graft_dataset_from_directory": ([ctypes.c_char_p, ctypes.POINTER(graft_dataset_options),
                                          ctypes.POINTER(handle)], status),
        "graft_dataset_from_directory_split": ([ctypes.c_char_p, ctypes.POINTER(graft_dataset_options),
                                                ctypes.POINTER(handle), ctypes.POINTER(handle)], status),
        "graft_dataset_from_memory": ([ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32,
                                       ctypes.c_int32, ctypes.c_int32, ctypes.POINTER(graft_dataset_options),
                                       ctypes.POINTER(handle)], status),
        "graft_dataset_from_memory_float": ([ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32,
                                             ctypes.c_int32, ctypes.c_int32, ctypes.POINTER(graft_dataset_options),
                                             ctypes.POINTER(handle)], status),
        "graft_dataset_free": ([handle], None),
        "graft_dataset_size": ([handle], ctypes.c_int64),
        "graft_dataset_batch_count": ([handle], ctypes.c_int64),
        "graft_dataset_class_count": ([handle], ctypes.c_int),
        "graft_dataset_class_name": ([handle, ctypes.c_int], ctypes.c_char_p),
        "graft_dataset_file_path": ([handle, ctypes.c_int64], ctypes.c_char_p),
        "graft_dataset_label": ([handle, ctypes.c_int64], ctypes.c_int32),
        "graft_dataset_image_shape": ([handle, int32_p, int32_p], status),
        "graft_dataset_channels": ([handle], ctypes.c_int32),
        "graft_augmentation_init_sized": ([ctypes.POINTER(graft_augmentation), ctypes.c_int, ctypes.c_size_t], None),
        "graft_augmentation_output_size": ([ctypes.POINTER(graft_augmentation), ctypes.c_int32, ctypes.c_int32,
                                            ctypes.c_int32, int32_p, int32_p], status),
        "graft_augment": ([ctypes.POINTER(graft_augmentation), ctypes.c_int32, ctypes.c_uint64, ctypes.c_int64,
                           ctypes.c_void_p, ctypes.c_int64, ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                           ctypes.c_void_p, ctypes.c_int64], status),
        "graft_dataset_iterate": ([handle, ctypes.POINTER(handle)], status),
        "graft_dataset_iterator_next": ([handle, ctypes.c_void_p, ctypes.c_void_p,
                                         ctypes.POINTER(ctypes.c_int64)], status),
        "graft_dataset_iterator_free": ([handle], None),
        "graft_model_set_class_names": ([handle, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int32], status),
        "graft_model_class_count": ([handle], ctypes.c_int),
        "graft_model_class_name": ([handle, ctypes.c_int], ctypes.c_char_p),
        "graft_model_output_activation": ([handle], ctypes.c_char_p),
        "graft_model_layer_class": ([handle, ctypes.c_int], ctypes.c_char_p),
        "graft_summary_options_init_sized": ([ctypes.POINTER(graft_summary_options), ctypes.c_size_t], None),
        "graft_model_summary": ([handle, ctypes.POINTER(graft_summary_options), ctypes.c_char_p, ctypes.c_size_t,
                                 ctypes.POINTER(ctypes.c_size_t)], status),
        "graft_model_feature_cache_note": ([handle, ctypes.c_char_p, ctypes.c_size_t,
                                            ctypes.POINTER(ctypes.c_size_t)], status),
        "graft_model_layer_output_shape": ([handle, ctypes.c_int, ctypes.POINTER(ctypes.c_int32),
                                            ctypes.POINTER(ctypes.c_int64)], status),
        "graft_model_layer_input_count": ([handle, ctypes.c_int], ctypes.c_int),
        "graft_model_layer_input": ([handle, ctypes.c_int, ctypes.c_int], ctypes.c_int),
        "graft_model_save": ([handle, ctypes.c_char_p], status),
        "graft_model_load": ([ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(handle)], status),
        "graft_model_set_micro_batch_size": ([handle, ctypes.c_int64], status),
        "graft_model_micro_batch_size": ([handle], ctypes.c_int64),
        "graft_history_text": ([ctypes.POINTER(graft_epoch_figures), ctypes.c_int64, ctypes.c_int32, ctypes.c_char_p,
                                ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t)], status),
        "graft_progress_printer_create": ([ctypes.c_int32, ctypes.c_int32, ctypes.c_double,
                                           ctypes.POINTER(handle)], status),
        "graft_progress_printer_report": ([handle, ctypes.POINTER(graft_progress), ctypes.c_int32, ctypes.c_double,
                                           ctypes.POINTER(ctypes.c_char_p)], status),
        "graft_progress_printer_set_top_k_name": ([handle, ctypes.c_char_p], status),
        "graft_progress_printer_set_note": ([handle, ctypes.c_char_p], status),
        "graft_progress_printer_end": ([handle, ctypes.POINTER(ctypes.c_char_p)], status),
        "graft_progress_printer_free": ([handle], None),
        "graft_progbar_create": ([ctypes.c_int64, ctypes.c_int32, ctypes.c_int32, ctypes.c_double, ctypes.c_double,
                                  ctypes.POINTER(handle)], status),
        "graft_progbar_update": ([handle, ctypes.c_int64, ctypes.POINTER(ctypes.c_char_p),
                                  ctypes.POINTER(ctypes.c_double), ctypes.c_int32, ctypes.c_int32, ctypes.c_int32,
                                  ctypes.c_double, ctypes.POINTER(ctypes.c_char_p)], status),
        "graft_progbar_close": ([handle, ctypes.POINTER(ctypes.c_char_p)], status),
        "graft_progbar_free": ([handle], None),
        "graft_distribution_initialize": ([ctypes.c_double], status),
        "graft_distribution_rank": ([], ctypes.c_int32),
        "graft_distribution_size": ([], ctypes.c_int32),
        "graft_distribution_barrier": ([], status),
    }
    for name, (argtypes, restype) in signatures.items():
        try:
            function = getattr(lib, name)
        except AttributeError:
            # A library older than these bindings (same ABI, fewer functions):
            # the rest of the package works, and this function says why not.
            setattr(lib, name, _missing_function(lib, name))
            continue
        function.argtypes = argtypes
        function.restype = restype


def _missing_function(lib: ctypes.CDLL, name: str) -> Callable[..., NoReturn]:
    """A stand-in for a function the loaded library lacks: calling it raises."""

    def missing(*args: object) -> NoReturn:
        raise GraftError(Status.STATE, f"{name} is not in {lib._name}: that libgraft is older than "
                         "these bindings; rebuild it (make build) or point GRAFT_LIBRARY at a newer one")

    return missing


lib = _load()
_declare(lib)

if lib.graft_abi_version() != ABI_VERSION:
    raise ImportError(
        f"graft: the loaded library {lib._name} has ABI version {lib.graft_abi_version()}, "
        f"these bindings were written for ABI version {ABI_VERSION}; "
        "install the bindings that come with that library")


def last_error() -> str:
    """graft_last_error() of the calling thread, as text."""
    return lib.graft_last_error().decode("utf-8", errors="replace")


def check(status: int) -> None:
    """Raise GraftError with the library's message unless `status` is GRAFT_OK."""
    if status != Status.OK:
        raise error_for(status, last_error())


def sized_text(function: Callable[..., int], *arguments: Any) -> str:
    """The text of a library function sized as graft_model_summary:
    `function(*arguments, buffer, capacity, needed)`, asked for its size,
    then called with a buffer of that size; GraftError on failure."""
    needed = ctypes.c_size_t()
    check(function(*arguments, None, 0, ctypes.byref(needed)))
    text = ctypes.create_string_buffer(needed.value)
    check(function(*arguments, text, needed.value, None))
    return text.value.decode("utf-8")


def default_dataset_options() -> graft_dataset_options:
    """The library's dataset defaults, as default_options() does for models."""
    options = graft_dataset_options()
    lib.graft_dataset_options_init_sized(ctypes.byref(options), ctypes.sizeof(graft_dataset_options))
    return options


def default_options() -> graft_model_options:
    """The library's defaults, in a struct of the size these bindings know
    (what the C header's graft_model_options_init macro does): the library
    fills only the fields declared here and keeps its defaults for any field a
    newer version appends."""
    options = graft_model_options()
    lib.graft_model_options_init_sized(ctypes.byref(options), ctypes.sizeof(graft_model_options))
    return options
