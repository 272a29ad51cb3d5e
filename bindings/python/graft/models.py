"""Models: handles on libgraft models with a Keras-like interface."""

from __future__ import annotations

import ctypes
import threading
from typing import Any, Callable, Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike

from . import _lib, summary
from .data import ImageDataset
from .errors import GraftError, Status

# The base's layer count tells the architecture of a model read from a file.


class Layer:
    """One layer of a model, as Keras lists it in `model.layers`.

    `trainable` reads and sets the layer's flag in the library (Keras's
    `layer.trainable = False` freezes it).
    """

    __slots__ = ("name", "_model", "_index")

    def __init__(self, name: str, model: "BaseModel", index: int) -> None:
        self.name = name
        self._model = model
        self._index = index

    @property
    def trainable(self) -> bool:
        """Whether the layer's weights train (BatchNormalization: gamma and
        beta; its moving statistics never do). Setting it freezes or
        unfreezes the layer, as Keras's `layer.trainable = False`."""
        with self._model._lock:
            state = _lib.lib.graft_model_layer_trainable(self._model._open_handle(), self._index)
        if state < 0:
            raise GraftError(Status.STATE, f"layer {self.name} is not in the model")
        return bool(state)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        with self._model._lock:
            _lib.check(_lib.lib.graft_model_set_layer_trainable(self._model._open_handle(), self._index,
                                                                int(bool(value))))

    def get_weights(self) -> list[np.ndarray]:
        """The layer's weights as float32 arrays, in Keras's order and shapes."""
        library, handle = _lib.lib, self._model._open_handle()
        with self._model._lock:
            arrays = []
            for k in range(library.graft_model_layer_weight_count(handle, self._index)):
                rank, dims = ctypes.c_int32(), (ctypes.c_int64 * 4)()
                _lib.check(library.graft_model_layer_weight_shape(handle, self._index, k, ctypes.byref(rank), dims))
                array = np.empty(tuple(dims[:rank.value]), dtype=np.float32)
                _lib.check(library.graft_model_get_layer_weight(handle, self._index, k, array.ctypes.data, array.size))
                arrays.append(array)
        return arrays

    def set_weights(self, weights: list[ArrayLike]) -> None:
        """Replaces the layer's weights (Keras's order and shapes)."""
        current = self.get_weights()
        if len(weights) != len(current):
            raise ValueError(f"layer {self.name} has {len(current)} weights, received {len(weights)}")
        for k, (value, old) in enumerate(zip(weights, current)):
            array = np.ascontiguousarray(value, dtype=np.float32)
            if array.shape != old.shape:
                raise ValueError(f"layer {self.name} weight {k} has shape {old.shape}, received {array.shape}")
            with self._model._lock:
                _lib.check(_lib.lib.graft_model_set_layer_weight(self._model._open_handle(), self._index, k,
                                                                 array.ctypes.data, array.size))

    def __repr__(self) -> str:
        return f"<Layer {self.name}>"


class BaseModel:
    """A ResNet base (Keras's `include_top=False` model) computed by libgraft.

    Build one with `graft.applications.ResNet50` and friends (a model read by
    `graft.load_model` has one too, as `model.base`, with the saved
    architecture and preprocessing). The model owns
    a library handle: `close()` (or leaving a `with` block, or garbage
    collection) releases it. Methods may be called from several threads;
    the library runs calls on one model one at a time.
    """

    def __init__(self, architecture: str, weights: Optional[bytes], input_height: int,
                 input_width: int, preprocessing: str, seed: int, threads: int,
                 precision: str = "float32") -> None:
        """Create the library model; the arguments are checked by the caller.

        Args:
            architecture: "resnet50", "resnet101" or "resnet152".
            weights: None (random init), b"imagenet", or a file path, encoded.
            input_height, input_width: input image size.
            preprocessing: a key of `_lib.PREPROCESSING`.
            seed: seed of the random initialisation.
            threads: worker threads, 0 for one per core.
            precision: a key of `_lib.PRECISION`.

        Raises:
            GraftError: the library refused the model.
        """
        # Set before creation so that close() works even if creation fails.
        self._handle = ctypes.c_void_p()
        # Held while the handle is in use, so close() in one thread waits for
        # a predict() in another instead of freeing the model under it.
        self._lock = threading.RLock()

        options = _lib.default_options()
        options.architecture = architecture.encode()
        options.weights = weights
        options.input_height = input_height
        options.input_width = input_width
        options.preprocessing = _lib.PREPROCESSING[preprocessing]
        options.seed = seed
        options.num_threads = threads
        options.precision = _lib.PRECISION[precision]
        _lib.check(_lib.lib.graft_model_create(ctypes.byref(options), ctypes.byref(self._handle)))
        self._adopt(architecture, preprocessing)

    @classmethod
    def _from_handle(cls, handle: ctypes.c_void_p) -> "BaseModel":
        """A BaseModel owning `handle`, a library model made elsewhere
        (graft_model_load), with the architecture and preprocessing it reports."""
        model = cls.__new__(cls)
        model._handle = handle
        model._lock = threading.RLock()
        preprocessing = {value: name for name, value in _lib.PREPROCESSING.items()}[
            _lib.lib.graft_model_preprocessing(handle)]
        model._adopt(_lib.lib.graft_model_architecture(handle).decode(), preprocessing)
        return model

    def _adopt(self, architecture: str, preprocessing: str) -> None:
        """Read the shapes and layers of the library model in self._handle."""
        self.name = architecture
        self.preprocessing = preprocessing
        height, width = ctypes.c_int32(), ctypes.c_int32()
        _lib.check(_lib.lib.graft_model_input_shape(self._handle, ctypes.byref(height), ctypes.byref(width)))
        self._input_shape = (height.value, width.value, 3)
        channels = ctypes.c_int32()
        _lib.check(_lib.lib.graft_model_feature_shape(
            self._handle, ctypes.byref(height), ctypes.byref(width), ctypes.byref(channels)))
        self._output_shape = (height.value, width.value, channels.value)
        count = _lib.lib.graft_model_base_layer_count(self._handle)
        self._layers = [Layer(_lib.lib.graft_model_base_layer_name(self._handle, i).decode(), self, i)
                        for i in range(count)]
        self._layers_by_name = {layer.name: layer for layer in self._layers}

    @property
    def input_shape(self) -> tuple:
        """(None, height, width, 3), as Keras writes it."""
        return (None, *self._input_shape)

    @property
    def output_shape(self) -> tuple:
        """(None, height', width', channels) of the features."""
        return (None, *self._output_shape)

    @property
    def layers(self) -> list[Layer]:
        """The base's layers in Keras's order (175 for ResNet50)."""
        return list(self._layers)

    @property
    def trainable(self) -> bool:
        """Whether any layer of the base trains."""
        return any(layer.trainable for layer in self._layers)

    @trainable.setter
    def trainable(self, value: bool) -> None:
        """Keras's `base.trainable = value`: every layer of the base."""
        with self._lock:
            _lib.check(_lib.lib.graft_model_set_base_trainable(self._open_handle(), int(bool(value))))

    @property
    def precision(self) -> str:
        """Number format of inference and of the frozen part of training:
        "float32", "bfloat16" or "int8" (see `graft.applications.ResNet50`).
        Setting it switches later passes (cached features are recomputed);
        "bfloat16" on a CPU without AVX512_BF16, and "int8" on a CPU without
        AVX512_VNNI or before `calibrate`, raise GraftError and change
        nothing."""
        with self._lock:
            value = _lib.lib.graft_model_precision(self._open_handle())
        return {number: name for name, number in _lib.PRECISION.items()}[value]

    @precision.setter
    def precision(self, value: str) -> None:
        if value not in _lib.PRECISION:
            raise ValueError(f"unknown precision {value!r}; expected one of {', '.join(_lib.PRECISION)}")
        with self._lock:
            _lib.check(_lib.lib.graft_model_set_precision(self._open_handle(), _lib.PRECISION[value]))

    def calibrate(self, data: "ImageDataset | ArrayLike") -> None:
        """Measure, in float32, the activation ranges that
        `precision = "int8"` rounds by, on representative images: a
        `graft.data.ImageDataset` at the model's input size (one pass, its
        own passes untouched) or an array of RGB images with pixel values
        0..255 of shape (n, height, width, 3) (TFLite's "representative
        dataset"; a few hundred images like those the model will see are
        plenty). Replaces earlier ranges.

        Raises:
            ValueError: an array of another shape, or no images.
            GraftError: the library refused the data (a dataset of another
                image size; an image that cannot be read).
        """
        if isinstance(data, ImageDataset):
            with self._lock:
                _lib.check(_lib.lib.graft_model_calibrate(self._open_handle(), data._live_handle()))
            return
        x = np.ascontiguousarray(data, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != self._input_shape or x.shape[0] == 0:
            raise ValueError(f"calibrate takes a dataset or at least one image of shape {self._input_shape}, "
                             f"not an array of shape {x.shape}")
        with self._lock:
            _lib.check(_lib.lib.graft_model_calibrate_images(self._open_handle(), x.ctypes.data, x.shape[0]))

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Layer:
        """The layer called `name`, or at position `index` of `layers`.

        Raises:
            ValueError: neither or both given, or no such layer.
        """
        if (name is None) == (index is None):
            raise ValueError("get_layer needs a layer name or an index (exactly one)")
        if index is not None:
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(f"layer index {index} is out of range: {self.name} has "
                                 f"{len(self._layers)} layers")
            return self._layers[index]
        try:
            return self._layers_by_name[name]
        except KeyError:
            raise ValueError(f"no layer named {name!r} in {self.name}; "
                             "see [layer.name for layer in model.layers]") from None

    def summary(self, line_length: Optional[int] = None, positions: Optional[Sequence[float]] = None,
                print_fn: Optional[Callable[..., object]] = None, expand_nested: bool = False,
                show_trainable: bool = False, layer_range: Any = None) -> None:
        """Print the base's layers as Keras's `model.summary()` does: name and
        type, output shape, parameter count and inputs of each layer, then the
        total, trainable and non-trainable parameter counts and sizes.

        Args:
            line_length: width of the table; default min(108, terminal width - 4).
            positions: right edges of the columns, as fractions of line_length.
            print_fn: called once with the whole text instead of `print`.
            expand_nested: accepted for Keras compatibility (nothing is nested).
            show_trainable: add a column saying whether each layer trains.
            layer_range: must be None (Graft prints every layer).
        """
        if layer_range is not None:
            raise ValueError("Graft's summary prints every layer: layer_range must be None")
        with self._lock:
            text = summary.summary_text(self._open_handle(), self.name, line_length, positions, show_trainable,
                                        base_only=True)
        summary.print_summary(text, print_fn)

    def count_params(self) -> int:
        """Number of weights in the base (trainable or not)."""
        with self._lock:
            return sum(layer.params for layer in summary.layer_infos(self._open_handle(), len(self._layers)))

    def predict(self, x: ArrayLike, batch_size: Optional[int] = None, verbose: int = 0) -> np.ndarray:
        """The features of already preprocessed images, like Keras's `base.predict`.

        Args:
            x: (n, height, width, 3) images, preprocessed as the weights
                expect (for ImageNet weights: caffe, see `features_from_images`).
            batch_size, verbose: accepted for Keras compatibility; the library
                chooses its own batches and prints nothing.

        Returns:
            float32 features of shape (n, height', width', channels).
        """
        return self._run(_lib.lib.graft_model_features, x)

    def __call__(self, x: ArrayLike, training: bool = False) -> np.ndarray:
        """As `predict`: Keras's `base(x, training=False)`.

        Raises:
            ValueError: training=True, which Keras would run with batch
                statistics; Graft's base always uses the moving statistics.
        """
        if training:
            raise ValueError("Graft's base always runs BatchNormalization in inference mode "
                             "(Keras's training=False); training=True is not available")
        return self.predict(x)

    def features_from_images(self, images: ArrayLike) -> np.ndarray:
        """The features of RGB images with pixel values 0..255.

        The model's preprocessing (`self.preprocessing`) is applied inside the
        library first, so this equals `predict(preprocess_input(images))`.
        """
        return self._run(_lib.lib.graft_model_image_features, images)

    def _run(self, function: Callable[..., int], x: ArrayLike) -> np.ndarray:
        """Call graft_model_features or graft_model_image_features on `x`."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.ndim != 4 or x.shape[1:] != self._input_shape:
            raise ValueError(f"{self.name} expects input of shape {self.input_shape}, "
                             f"got an array of shape {x.shape}")
        features = np.empty((x.shape[0], *self._output_shape), dtype=np.float32)
        if x.shape[0] == 0:  # the library refuses a count of 0; Keras returns an empty batch
            return features
        with self._lock:
            _lib.check(function(self._open_handle(), x.ctypes.data, x.shape[0], features.ctypes.data))
        return features

    def _open_handle(self) -> ctypes.c_void_p:
        """The library handle, or a GraftError if the model was closed."""
        if not self._handle:
            raise GraftError(Status.STATE, f"the {self.name} model is closed")
        return self._handle

    def close(self) -> None:
        """Release the library model. Calling it again does nothing."""
        with self._lock:
            if self._handle:
                _lib.lib.graft_model_free(self._handle)
                self._handle = ctypes.c_void_p()

    def __enter__(self) -> BaseModel:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        # __init__ may have failed before the handle existed.
        if hasattr(self, "_handle"):
            self.close()

    def __repr__(self) -> str:
        state = "" if self._handle else ", closed"
        return f"<graft BaseModel {self.name}, input {self.input_shape}{state}>"
