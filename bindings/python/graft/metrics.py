"""Keras's metrics around a trained model.

fit and evaluate report accuracy (Keras's "accuracy" metric on class
indices; for the binary head, `BinaryAccuracy`), and a top-k accuracy when
compiled with one (`SparseTopKCategoricalAccuracy`, `TopKCategoricalAccuracy`);
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


class BinaryAccuracy:
    """Keras's BinaryAccuracy, the binary head's accuracy: the fraction of
    images whose prediction, 1 when the head's output is above `threshold`,
    equals the label. As in Keras, the output compared is what the model
    gives, the logit: Keras's default 0.5 is a probability of about 0.62,
    and threshold=0.0 a probability of one half. Reported under the name
    "accuracy" (as Graft reports every accuracy)."""

    def __init__(self, name: str = "binary_accuracy", dtype: Any = None, threshold: float = 0.5) -> None:
        self.threshold = float(threshold)
        if not np.isfinite(self.threshold):
            raise ValueError(f"threshold must be finite, received: threshold={threshold}")
        self.name = str(name)

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": "float32", "threshold": self.threshold}


# The names compile(metrics=[...]) takes for accuracy, as Keras does: for a
# head of several classes, and for the binary head.
_ACCURACY_NAMES = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy")
_BINARY_ACCURACY_NAMES = ("accuracy", "acc", "binary_accuracy")


def _check(metrics: Optional[Sequence[Any]], binary_head: bool) \
        -> tuple[Optional[SparseTopKCategoricalAccuracy], Optional[float], list[str]]:
    """The top-k accuracy among compile's `metrics` (or None), the binary
    accuracy's threshold (None: the library's default, Keras's 0.5), and the
    names of the compiled metrics in their order; raises ValueError for a
    metric Graft does not compute (refused rather than ignored) or one that
    does not fit the head."""
    top_k, threshold, order = None, None, []
    accuracy_names = _BINARY_ACCURACY_NAMES if binary_head else _ACCURACY_NAMES
    for metric in metrics or []:
        misplaced = metric not in accuracy_names and metric in _ACCURACY_NAMES + _BINARY_ACCURACY_NAMES
        if isinstance(metric, str) and misplaced:
            raise ValueError(f'metrics=["{metric}"] does not fit the head: '
                             + ('the binary head reports "binary_accuracy"' if binary_head
                                else '"binary_accuracy" needs a head of one logit (num_classes=1)'))
        if isinstance(metric, BinaryAccuracy):
            if not binary_head:
                raise ValueError("BinaryAccuracy needs a head of one logit (num_classes=1)")
            threshold = metric.threshold
            order.append("accuracy")
            continue
        if isinstance(metric, str) and metric in (SparseTopKCategoricalAccuracy.default_name,
                                                  TopKCategoricalAccuracy.default_name):
            # Keras's string form: k=5.
            metric = (SparseTopKCategoricalAccuracy() if metric.startswith("sparse")
                      else TopKCategoricalAccuracy())
        if isinstance(metric, SparseTopKCategoricalAccuracy):
            if binary_head:
                raise ValueError("a top-k accuracy needs a head of several classes; the binary head has one logit")
            if top_k is not None:
                raise ValueError("Graft reports one top-k accuracy; received two in metrics="
                                 f"{list(metrics or [])!r}")
            top_k = metric
            order.append(metric.name)
        elif isinstance(metric, str) and metric in accuracy_names:
            order.append("accuracy")
        else:
            raise ValueError("Graft reports accuracy (graft.metrics.BinaryAccuracy for the binary head) and a top-k "
                             "accuracy (graft.metrics.SparseTopKCategoricalAccuracy or TopKCategoricalAccuracy); "
                             f"received metrics={list(metrics or [])!r}")
    if "accuracy" not in order:
        # Graft always reports accuracy; Keras's order puts it first.
        order.insert(0, "accuracy")
    return top_k, threshold, order


def confusion_matrix(model, x, y: Optional[ArrayLike] = None, batch_size: int = 32) -> np.ndarray:
    """The confusion matrix of `model` on a dataset or on arrays (x, y):
    entry [i, j] counts the images of class i the model predicts as class j
    (the first largest logit), as tf.math.confusion_matrix counts them; int64
    (classes, classes), classes being num_classes or 2 for the binary head,
    which predicts class 1 when its logit is above the compiled
    BinaryAccuracy's threshold. No augmentation, no dropout.

    Raises:
        ValueError, GraftError: as `model.evaluate` for the same data.
    """
    from . import _lib

    dataset = model._dataset(x, y, batch_size, False, None)
    classes = model._label_classes
    matrix = np.zeros((classes, classes), dtype=np.int64)
    with model.base._lock:
        _lib.check(_lib.lib.graft_model_confusion_matrix(model.base._open_handle(), dataset._live_handle(),
                                                         matrix.ctypes.data_as(ctypes.POINTER(ctypes.c_int64)),
                                                         matrix.size))
    return matrix


__all__ = ["BinaryAccuracy", "SparseTopKCategoricalAccuracy", "TopKCategoricalAccuracy", "confusion_matrix"]
