"""Keras's metrics around a trained model.

fit and evaluate report accuracy (Keras's "accuracy" metric on class
indices); `confusion_matrix` counts what the model predicts for each class.
"""

from __future__ import annotations

import ctypes
from typing import Optional

import numpy as np
from numpy.typing import ArrayLike


def confusion_matrix(model, x, y: Optional[ArrayLike] = None, batch_size: int = 32) -> np.ndarray:
    """The confusion matrix of `model` on a dataset or on arrays (x, y):
    entry [i, j] counts the images of class i the model predicts as class j
    (the first largest logit), as tf.math.confusion_matrix counts them; int64
    (num_classes, num_classes). No augmentation, no dropout.

    Raises:
        ValueError, GraftError: as `model.evaluate` for the same data.
    """
    from . import _lib

    dataset = model._dataset(x, y, batch_size, False, None)
    classes = model.num_classes
    matrix = np.zeros((classes, classes), dtype=np.int64)
    with model.base._lock:
        _lib.check(_lib.lib.graft_model_confusion_matrix(model.base._open_handle(), dataset._live_handle(),
                                                         matrix.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
                                                         matrix.size))
    return matrix


__all__ = ["confusion_matrix"]
