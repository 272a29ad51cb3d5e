"""Keras's metrics around a trained model.

fit and evaluate report accuracy (Keras's "accuracy" metric on class
indices), and a top-k accuracy when compiled with one
(`SparseTopKCategoricalAccuracy`, `TopKCategoricalAccuracy`);
`confusion_matrix` counts what the model predicts for each class.
"""

from __future__ import annotations

import ctypes
import operator
from typing import Any, Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike


class SparseTopKCategoricalAccuracy:
    """Keras's SparseTopKCategoricalAccuracy, for compile(metrics=[...]):
    the fraction of images whose class is among the model's k largest
    logits (classes tied at the k-th place all count, as tf.math.in_top_k).
    Computed by the library in fit and evaluate, under `name`; like Keras's
    metrics, not weighted by class_weight or sample_weight."""

    default_name = "sparse_top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: Optional[str] = None, dtype: Any = None) -> None:
        self.k = operator.index(k)
        if self.k < 1:
            raise ValueError(f"k must be at least 1, received: k={k}")
        self.name = self.default_name if name is None else str(name)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": "float32", "k": self.k}


class TopKCategoricalAccuracy(SparseTopKCategoricalAccuracy):
    """Keras's TopKCategoricalAccuracy, for one-hot labels
    (CategoricalCrossentropy): the same figure as
    SparseTopKCategoricalAccuracy under Keras's other name."""

    default_name = "top_k_categorical_accuracy"


# The names compile(metrics=[...]) takes for accuracy, as Keras does.
_ACCURACY_NAMES = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy")


def _check(metrics: Optional[Sequence[Any]]) -> tuple[Optional[SparseTopKCategoricalAccuracy], list[str]]:
    """The top-k accuracy among compile's `metrics` (or None), and the names
    of the compiled metrics in their order; raises ValueError for a metric
    Graft does not compute (refused rather than ignored)."""
    top_k, order = None, []
    for metric in metrics or []:
        if isinstance(metric, str) and metric in (SparseTopKCategoricalAccuracy.default_name,
                                                  TopKCategoricalAccuracy.default_name):
            # Keras's string form: k=5.
            metric = (SparseTopKCategoricalAccuracy() if metric.startswith("sparse")
                      else TopKCategoricalAccuracy())
        if isinstance(metric, SparseTopKCategoricalAccuracy):
            if top_k is not None:
                raise ValueError("Graft reports one top-k accuracy; received two in metrics="
                                 f"{list(metrics or [])!r}")
            top_k = metric
            order.append(metric.name)
        elif isinstance(metric, str) and metric in _ACCURACY_NAMES:
            order.append("accuracy")
        else:
            raise ValueError("Graft reports accuracy and a top-k accuracy (graft.metrics."
                             "SparseTopKCategoricalAccuracy or TopKCategoricalAccuracy); received metrics="
                             f"{list(metrics or [])!r}")
    if "accuracy" not in order:
        # Graft always reports accuracy; Keras's order puts it first.
        order.insert(0, "accuracy")
    return top_k, order


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


__all__ = ["SparseTopKCategoricalAccuracy", "TopKCategoricalAccuracy", "confusion_matrix"]
