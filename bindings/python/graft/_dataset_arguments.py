"""Keras's checks of image_dataset_from_directory's arguments, in Keras's
order and words (its own tests match the messages), and where Graft's
support ends, said as such: each raised as the library raises a bad
argument, a GraftError that is also the ValueError Keras raises."""

from __future__ import annotations

from ._lib import INTERPOLATION
from .errors import GraftError, Status, error_for

# Keras's interpolation names, in Keras's order (image_dataset_from_directory
# lower-cases them); Graft computes each.
INTERPOLATIONS = tuple(INTERPOLATION)


def check_arguments(labels, label_mode, class_names, color_mode, image_size, interpolation, format):
    """Keras's checks of image_dataset_from_directory's arguments, in Keras's
    order and words. Returns labels, label_mode (both None when either is),
    image_size as a pair and interpolation lower-cased."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise _invalid(
                "`labels` argument should be a list/tuple of integer labels, of the same size as the number of "
                "image files in the target directory. If you wish to infer the labels from the subdirectory names "
                'in the target directory, pass `labels="inferred"`. If you wish to get a dataset that only '
                f"contains images (no labels), pass `labels=None`. Received: labels={labels}")
        if class_names:
            raise _invalid('You can only pass `class_names` if `labels="inferred"`. '
                           f"Received: labels={labels}, and class_names={class_names}")
    if label_mode not in {"int", "categorical", "binary", None}:
        raise _invalid('`label_mode` argument must be one of "int", "categorical", "binary", '
                       f"or None. Received: label_mode={label_mode}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if color_mode not in ("rgb", "rgba", "grayscale"):
        raise _invalid(f'`color_mode` must be one of {{"rgb", "rgba", "grayscale"}}. Received: color_mode={color_mode}')
    if isinstance(image_size, int):
        image_size = (image_size, image_size)
    elif not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise _invalid(f"Invalid `image_size` value. Expected a tuple of 2 integers. Received: image_size={image_size}")
    interpolation = interpolation.lower()
    if interpolation not in INTERPOLATIONS:
        raise _invalid(f"Argument `interpolation` should be one of {INTERPOLATIONS}. "
                       f"Received: interpolation={interpolation}")
    if format not in ("tf", "grain"):
        raise _invalid(f'`format` should be either "tf" or "grain". Received: format={format}')
    return labels, label_mode, tuple(image_size), interpolation


def check_validation_split(validation_split, subset, shuffle, seed) -> None:
    """Keras's dataset_utils.check_validation_split_arg, in its words (a
    validation_split of 0 counts as none, as in Keras)."""
    if validation_split and not 0 < validation_split < 1:
        raise _invalid(f"`validation_split` must be between 0 and 1, received: {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise _invalid("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise _invalid(f'`subset` must be either "training", "validation" or "both", received: {subset}')
    if validation_split and shuffle and seed is None:
        raise _invalid("If using `validation_split` and shuffling the data, you must provide a `seed` argument, "
                       "to make sure that there is no overlap between the training and validation subset.")


def check_graft_limits(data_format, format) -> None:
    """Where Graft's image_dataset_from_directory differs. Checked after
    Keras's own checks and the listing, so that a call Keras refuses gets
    Keras's error first."""
    if data_format not in (None, "channels_last"):
        raise _invalid('Graft hands out images channels last (NHWC): data_format must be None or "channels_last", '
                       f"received: {data_format!r}")
    if format != "tf":
        raise _invalid('Graft\'s datasets are its own, iterated as numpy arrays, in place of format="tf"; '
                       f"received: format={format!r}")


def _invalid(message: str) -> GraftError:
    """The error the library's own argument checks raise."""
    return error_for(Status.INVALID_ARGUMENT, message)
