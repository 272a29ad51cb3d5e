"""ResNet bases with the signatures of `keras.applications`.

Graft builds the convolutional base only (Keras's `include_top=False`); the
pooling and classification head are put on it by `graft.TransferModel`.
"""

from __future__ import annotations

import operator
import types
import os
from typing import Any, Optional, Union

from . import _lib
from .models import BaseModel

# Keras's default input size for ResNet.
DEFAULT_INPUT_SHAPE = (224, 224, 3)

Weights = Union[None, str, os.PathLike]


def ResNet50(include_top: bool = False, weights: Weights = "imagenet", input_tensor: Any = None,
             input_shape: Optional[tuple] = None, pooling: Optional[str] = None, classes: int = 1000,
             *, preprocessing: str = "caffe", seed: int = 0, threads: int = 0,
             precision: str = "float32") -> BaseModel:
    """ResNet50 without its top, as `keras.applications.ResNet50(include_top=False)`.

    Args:
        include_top: must be False: Graft builds the base only.
        weights: None (Keras's random initialisers, from `seed`), "imagenet"
            (resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5, looked up
            in $GRAFT_WEIGHTS_DIR, then $KERAS_HOME/models or ~/.keras/models;
            never downloaded), or the path of a Keras HDF5 weight file.
        input_tensor: must be None: Graft models take numpy arrays.
        input_shape: (height, width, 3), each side at least 32; default
            (224, 224, 3).
        pooling: must be None: pooling belongs to the head.
        classes: accepted for Keras compatibility; it only applies to a top.
        preprocessing: what `features_from_images` applies first: "caffe"
            (Keras's resnet preprocess_input, the default), "rescale" (/255)
            or "none".
        seed: seed of the random initialisation (weights=None).
        threads: worker threads; 0 means one per core.
        precision: number format of inference (features, predictions,
            evaluation, the frozen part of training; training steps always
            compute in float32): "float32" (the default, as Keras) or
            "bfloat16" (features within about 1% of float32's; needs a CPU
            with AVX512_BF16). "int8" (needs AVX512_VNNI) is set on the
            model after `model.calibrate(images)`.

    Raises:
        ValueError: an argument Graft does not support or a malformed one.
        TypeError: weights, seed, threads or a side of input_shape of the
            wrong type.
        GraftError: the library refused the model (weight file missing,
            of another architecture or with a wrong shape; input too small).
    """
    return _resnet("resnet50", include_top, weights, input_tensor, input_shape, pooling,
                   preprocessing, seed, threads, precision)


def ResNet101(include_top: bool = False, weights: Weights = "imagenet", input_tensor: Any = None,
              input_shape: Optional[tuple] = None, pooling: Optional[str] = None, classes: int = 1000,
              *, preprocessing: str = "caffe", seed: int = 0, threads: int = 0,
             precision: str = "float32") -> BaseModel:
    """ResNet101 without its top; the arguments are those of `ResNet50`."""
    return _resnet("resnet101", include_top, weights, input_tensor, input_shape, pooling,
                   preprocessing, seed, threads, precision)


def ResNet152(include_top: bool = False, weights: Weights = "imagenet", input_tensor: Any = None,
              input_shape: Optional[tuple] = None, pooling: Optional[str] = None, classes: int = 1000,
              *, preprocessing: str = "caffe", seed: int = 0, threads: int = 0,
             precision: str = "float32") -> BaseModel:
    """ResNet152 without its top; the arguments are those of `ResNet50`."""
    return _resnet("resnet152", include_top, weights, input_tensor, input_shape, pooling,
                   preprocessing, seed, threads, precision)


def _resnet(architecture: str, include_top: bool, weights: Weights, input_tensor: Any,
            input_shape: Optional[tuple], pooling: Optional[str], preprocessing: str,
            seed: int, threads: int, precision: str) -> BaseModel:
    """Check the Keras-style arguments and build the model."""
    if include_top:
        raise ValueError(
            "Graft builds the ResNet base only: use include_top=False, then put a classification "
            "head on it with graft.TransferModel(base, num_classes=...).")
    if input_tensor is not None:
        raise ValueError("Graft models take numpy arrays, not Keras tensors: pass input_shape "
                         "instead of input_tensor")
    if pooling is not None:
        raise ValueError(
            f"pooling={pooling!r} belongs to the head: use pooling=None here and "
            "graft.TransferModel(base, num_classes=..., pooling=\"avg\") (or take "
            "features.mean(axis=(1, 2)) of the base's output)")
    if preprocessing not in _lib.PREPROCESSING:
        raise ValueError(f"unknown preprocessing {preprocessing!r}; "
                         f"expected one of {', '.join(_lib.PREPROCESSING)}")
    if precision not in _lib.PRECISION:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(_lib.PRECISION)}")
    height, width = _input_size(input_shape)
    return BaseModel(architecture, _encode_weights(weights), height, width, preprocessing,
                     _integer(seed, "seed", 0, 2**64 - 1), _integer(threads, "threads", 0, 2**31 - 1),
                     precision)


def _input_size(input_shape: Optional[tuple]) -> tuple[int, int]:
    """(height, width) of an input_shape (height, width, 3).

    Only the form is checked here; the library reports sizes it cannot use
    (below 32), with the same message as for C callers.
    """
    if input_shape is None:
        input_shape = DEFAULT_INPUT_SHAPE
    shape = tuple(input_shape)
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"input_shape must be (height, width, 3) (RGB, channels last), "
                         f"not {input_shape!r}")
    if shape[0] is None or shape[1] is None:
        raise ValueError(f"input_shape {input_shape!r}: Graft needs a fixed image size")
    return (_integer(shape[0], "input height", -2**31, 2**31 - 1),
            _integer(shape[1], "input width", -2**31, 2**31 - 1))


def _integer(value: Any, name: str, low: int, high: int) -> int:
    """`value` as an int within [low, high], the range of its C field.

    ctypes silently wraps out-of-range values (seed=-1 would become 2**64-1),
    so the range is checked here.
    """
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {value!r}") from None
    if not low <= number <= high:
        raise ValueError(f"{name} {number} is out of range [{low}, {high}]")
    return number


def _encode_weights(weights: Weights) -> Optional[bytes]:
    """The weights option as the library takes it: None, b"imagenet" or a path."""
    if weights is None:
        return None
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f'weights must be None, "imagenet" or a file path, not {weights!r}')
    return os.fsencode(weights)


def preprocess_input(x: Any, data_format: Optional[str] = None) -> Any:
    """keras.applications.resnet.preprocess_input: RGB to BGR, minus the
    ImageNet channel means, no scaling (the library's, as the models apply
    it). Returns a new float32 array of x's shape (channels last).

    Raises:
        ValueError: data_format other than channels_last, or an array whose
            last axis is not 3 channels.
    """
    import numpy as np

    if data_format not in (None, "channels_last"):
        raise ValueError(f'Graft takes channels_last images; received data_format={data_format!r}')
    pixels = np.ascontiguousarray(x, dtype=np.float32)
    if pixels.ndim == 0 or pixels.shape[-1] != 3:
        raise ValueError(f"preprocess_input takes RGB images with 3 channels last, received shape {pixels.shape}")
    output = np.empty_like(pixels)
    _lib.check(_lib.lib.graft_preprocess(_lib.PREPROCESSING["caffe"], pixels.ctypes.data, pixels.size // 3,
                                         output.ctypes.data))
    return output


# Keras's modules: keras.applications.resnet50.preprocess_input and
# keras.applications.resnet.ResNet101, ...
resnet50 = types.SimpleNamespace(ResNet50=ResNet50, preprocess_input=preprocess_input)
resnet = types.SimpleNamespace(ResNet50=ResNet50, ResNet101=ResNet101, ResNet152=ResNet152,
                               preprocess_input=preprocess_input)
