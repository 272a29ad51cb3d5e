"""TransferModel: a base, a new head, compile / fit / evaluate / predict."""

from __future__ import annotations

import ctypes
import math
from typing import Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _lib
from .data import ImageDataset
from .models import BaseModel, Layer
from .optimizers import Optimizer

Data = Union[ImageDataset, ArrayLike]


class History:
    """What fit returns: `history` maps "loss", "accuracy" (and "val_loss",
    "val_accuracy" with validation data) to one value per epoch, as Keras's."""

    def __init__(self, history: dict[str, list[float]], epoch: list[int], stopped: bool) -> None:
        self.history = history
        self.epoch = epoch
        self.stopped = stopped


class TransferModel:
    """Keras's transfer-learning model on a Graft base.

        base = graft.applications.ResNet50(weights="imagenet", input_shape=(100, 100, 3))
        model = graft.TransferModel(base, num_classes=3, augmentation="horizontal_and_vertical")
        base.trainable = False
        model.compile(optimizer=graft.optimizers.Adam())
        history = model.fit(train, epochs=20, validation_data=val)

    The head is the base's output pooled (GlobalAveragePooling2D, or Flatten),
    optional hidden Dense layers with ReLU and Dropout, then Dense(num_classes)
    giving logits; the loss is categorical cross-entropy from logits. The
    model shares the base's library handle: `base.trainable` and
    `layer.trainable` act on it, and `layers` lists the base's layers, then
    the head's. Images are RGB pixels 0..255; the base's preprocessing is
    applied inside.
    """

    def __init__(self, base: BaseModel, num_classes: int, preprocessing: Optional[str] = None,
                 pooling: str = "avg", hidden_units: Sequence[int] = (), dropout: float = 0.0,
                 augmentation: Optional[str] = None, seed: int = 0) -> None:
        if preprocessing is not None and preprocessing != base.preprocessing:
            raise ValueError(f"the base was built with preprocessing={base.preprocessing!r}; choose "
                             f"{preprocessing!r} when building it (e.g. ResNet50(..., preprocessing=...))")
        if pooling not in _lib.POOLING:
            raise ValueError(f'pooling must be "avg" or "flatten", received: {pooling!r}')
        if augmentation not in _lib.FLIP:
            raise ValueError('augmentation must be None, "horizontal", "vertical" or '
                             f'"horizontal_and_vertical", received: {augmentation!r}')
        options = _lib.graft_head_options()
        _lib.lib.graft_head_options_init_sized(ctypes.byref(options), ctypes.sizeof(options))
        options.num_classes = num_classes
        options.pooling = _lib.POOLING[pooling]
        units = (ctypes.c_int32 * len(hidden_units))(*hidden_units)
        options.hidden_units = units
        options.hidden_units_count = len(hidden_units)
        options.dropout = dropout
        options.augmentation = _lib.FLIP[augmentation]
        options.seed = seed
        with base._lock:
            _lib.check(_lib.lib.graft_model_add_head(base._open_handle(), ctypes.byref(options)))
        self.base = base
        self.num_classes = num_classes
        handle = base._open_handle()
        count = _lib.lib.graft_model_layer_count(handle)
        start = len(base.layers)
        self._head_layers = [Layer(_lib.lib.graft_model_layer_name(handle, i).decode(), base, i)
                             for i in range(start, count)]

    @property
    def layers(self) -> list[Layer]:
        """The base's layers, then the head's (the output Dense last)."""
        return self.base.layers + self._head_layers

    def compile(self, optimizer: Optimizer, loss: Optional[str] = None,
                metrics: Optional[Sequence[str]] = None) -> None:
        """Sets the optimizer with fresh state. The loss is categorical
        cross-entropy from logits and the metric accuracy; `loss` and
        `metrics` are accepted for Keras's call shape."""
        options = optimizer._options()
        with self.base._lock:
            _lib.check(_lib.lib.graft_model_compile(self.base._open_handle(), ctypes.byref(options)))

    def fit(self, x: Data, y: Optional[ArrayLike] = None, batch_size: int = 32, epochs: int = 1,
            verbose: int = 0, validation_data: Optional[Union[ImageDataset, Tuple[ArrayLike, ArrayLike]]] = None,
            shuffle: bool = True, seed: Optional[int] = None) -> History:
        """Trains on a dataset, or on arrays (x, y) batched here. Returns a
        History; with verbose, prints each epoch's figures."""
        train = self._dataset(x, y, batch_size, shuffle, seed)
        validation = None
        if validation_data is not None:
            validation = (validation_data if isinstance(validation_data, ImageDataset)
                          else self._dataset(*validation_data, batch_size, False, None))
        history = ctypes.c_void_p()
        with self.base._lock:
            _lib.check(_lib.lib.graft_model_fit(
                self.base._open_handle(), train._live_handle(),
                validation._live_handle() if validation is not None else None, epochs,
                _lib.PROGRESS_FN(), None, ctypes.byref(history)))
        try:
            return self._history(history, verbose)
        finally:
            _lib.lib.graft_history_free(history)

    def _history(self, handle: ctypes.c_void_p, verbose: int) -> History:
        epochs = _lib.lib.graft_history_epochs(handle)
        values: dict[str, list[float]] = {}
        for metric in ("loss", "accuracy", "val_loss", "val_accuracy"):
            column = [_lib.lib.graft_history_value(handle, metric.encode(), e) for e in range(epochs)]
            if column and not all(math.isnan(v) for v in column):
                values[metric] = column
        if verbose:
            for e in range(epochs):
                figures = " - ".join(f"{k}: {v[e]:.4f}" for k, v in values.items())
                print(f"Epoch {e + 1}/{epochs} - {figures}")
        return History(values, list(range(epochs)), bool(_lib.lib.graft_history_stopped(handle)))

    def evaluate(self, x: Data, y: Optional[ArrayLike] = None, batch_size: int = 32,
                 verbose: int = 0) -> list[float]:
        """[loss, accuracy] over a dataset or arrays."""
        dataset = self._dataset(x, y, batch_size, False, None)
        loss, accuracy = ctypes.c_double(), ctypes.c_double()
        with self.base._lock:
            _lib.check(_lib.lib.graft_model_evaluate(self.base._open_handle(), dataset._live_handle(),
                                                     _lib.PROGRESS_FN(), None, ctypes.byref(loss),
                                                     ctypes.byref(accuracy)))
        return [loss.value, accuracy.value]

    def predict(self, x: ArrayLike, batch_size: Optional[int] = None, verbose: int = 0) -> np.ndarray:
        """Logits (n, num_classes) for RGB images (n, height, width, 3), pixels 0..255."""
        images = np.ascontiguousarray(x, dtype=np.float32)
        expected = self.base.input_shape[1:]
        if images.ndim != 4 or images.shape[1:] != expected:
            raise ValueError(f"predict expects images of shape (n, {expected[0]}, {expected[1]}, 3), "
                             f"got {images.shape}")
        logits = np.empty((images.shape[0], self.num_classes), dtype=np.float32)
        if images.shape[0] == 0:
            return logits
        with self.base._lock:
            _lib.check(_lib.lib.graft_model_predict(self.base._open_handle(), images.ctypes.data,
                                                    images.shape[0], logits.ctypes.data))
        return logits

    def _dataset(self, x: Data, y: Optional[ArrayLike], batch_size: int, shuffle: bool,
                 seed: Optional[int]) -> ImageDataset:
        if isinstance(x, ImageDataset):
            if y is not None:
                raise ValueError("y must be None when x is a dataset (the labels come with it)")
            return x
        if y is None:
            raise ValueError("fit and evaluate on arrays need labels: call fit(x, y, ...)")
        return ImageDataset.from_arrays(x, y, num_classes=self.num_classes, batch_size=batch_size,
                                        shuffle=shuffle, seed=seed)

    def __repr__(self) -> str:
        return f"<graft TransferModel on {self.base.name}, {self.num_classes} classes>"
