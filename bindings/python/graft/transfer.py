"""TransferModel: a base, a new head, compile / fit / evaluate / predict."""

from __future__ import annotations

import ctypes
import json
import math
import operator
import os
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _lib, losses, optimizers, summary
from . import layers as _layers
from . import metrics as _metrics
from .callbacks import Callback, LearningRateScheduler, _LibraryCallback
from .data import ImageDataset
from .errors import Status
from .models import BaseModel, Layer
from .optimizers import Optimizer
from .progress import Progress, StopOnInterrupt, Verbose, verbosity

Data = Union[ImageDataset, ArrayLike]


class History:
    """What fit returns (and leaves in `model.history`), as Keras's History.

    Attributes:
        history: "accuracy", "loss" (and "val_accuracy", "val_loss" with
            validation data), each a list of one value per completed epoch.
        epoch: the indices of the completed epochs, [0, 1, ...].
        params: {"verbose", "epochs", "steps"} of the fit.
        stopped: whether the fit stopped early (Ctrl-C); the lists then hold
            the epochs completed before.
    """

    def __init__(self, history: dict[str, list[float]], epoch: list[int], stopped: bool,
                 params: Optional[dict[str, Any]] = None) -> None:
        self.history = history
        self.epoch = epoch
        self.stopped = stopped
        self.params = params or {}

    def __repr__(self) -> str:
        return f"<graft History, {len(self.epoch)} epochs: {', '.join(self.history)}>"


def _augmentation_layers(augmentation) -> list:
    """The layers TransferModel's `augmentation` names."""
    if augmentation is None:
        return []
    if isinstance(augmentation, _layers._AugmentationLayer):
        return [augmentation]
    if isinstance(augmentation, str):
        if augmentation not in _lib.FLIP:
            raise ValueError('augmentation must be a list of graft.layers, or a RandomFlip mode ("horizontal", '
                             f'"vertical" or "horizontal_and_vertical"), received: {augmentation!r}')
        return [_layers.RandomFlip(augmentation)]
    try:
        layers = list(augmentation)
    except TypeError:
        raise TypeError(f"augmentation must be a list of graft.layers augmentation layers, received: "
                        f"{augmentation!r}") from None
    for layer in layers:
        if not isinstance(layer, _layers._AugmentationLayer):
            raise TypeError(f"augmentation must list graft.layers augmentation layers, received: {layer!r}")
    return layers


class TransferModel:
    """Keras's transfer-learning model on a Graft base.

        base = graft.applications.ResNet50(weights="imagenet", input_shape=(100, 100, 3))
        model = graft.TransferModel(base, num_classes=3, augmentation=[
            graft.layers.RandomFlip("horizontal"), graft.layers.RandomRotation(0.1)])
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
                 augmentation: Union[None, str, _layers._AugmentationLayer,
                                     Sequence[_layers._AugmentationLayer]] = None,
                 seed: int = 0, name: str = "functional") -> None:
        """Put a new head on `base`.

        Args:
            base: a model from graft.applications; it becomes part of this
                model (its handle is shared) and cannot take another head.
            num_classes: outputs of the last Dense layer; 1 for Keras's
                binary classifier (one logit, BinaryCrossentropy(
                from_logits=True) on labels 0 and 1).
            preprocessing: None, or the base's own preprocessing (checked);
                it is chosen when building the base.
            pooling: "avg" (GlobalAveragePooling2D) or "flatten".
            hidden_units: sizes of hidden Dense layers with ReLU.
            dropout: rate of a Dropout layer after each hidden layer (after
                the pooling when there is none); 0 for none.
            augmentation: Keras's augmentation layers (graft.layers),
                applied in order to training images only, on the data
                pipeline's threads: a list such as [RandomFlip("horizontal"),
                RandomRotation(0.1), RandomZoom(0.2)] (one layer alone is a
                list of one), or a RandomFlip mode ("horizontal",
                "vertical", "horizontal_and_vertical") for that flip alone;
                None for none. The model draws from its seed (the layers'
                own seeds are for calling them alone). Flips alone keep the
                feature cache of a frozen base; any other layer turns it off
                for training images (fit's verbose output says which).
                RandomCrop is refused: the base fixes the images' size.
            seed: seed of the head's initialisation, the augmentation's
                draws and the dropout.
            name: the model's name, shown by summary().

        Raises:
            ValueError: an unknown pooling or augmentation, or another preprocessing.
            GraftError: the library refused the head (the base has one
                already, num_classes below 1, ...).
        """
        if preprocessing is not None and preprocessing != base.preprocessing:
            raise ValueError(f"the base was built with preprocessing={base.preprocessing!r}; choose "
                             f"{preprocessing!r} when building it (e.g. ResNet50(..., preprocessing=...))")
        if pooling not in _lib.POOLING:
            raise ValueError(f'pooling must be "avg" or "flatten", received: {pooling!r}')
        augmentation_layers = _augmentation_layers(augmentation)
        options = _lib.graft_head_options()
        _lib.lib.graft_head_options_init_sized(ctypes.byref(options), ctypes.sizeof(options))
        options.num_classes = num_classes
        options.pooling = _lib.POOLING[pooling]
        units = (ctypes.c_int32 * len(hidden_units))(*hidden_units)
        options.hidden_units = units
        options.hidden_units_count = len(hidden_units)
        options.dropout = dropout
        layer_options = (_lib.graft_augmentation * len(augmentation_layers))(
            *[layer._options() for layer in augmentation_layers])
        options.augmentation_layers = ctypes.cast(layer_options, ctypes.c_void_p)
        options.augmentation_layer_count = len(augmentation_layers)
        options.seed = seed
        with base._lock:
            _lib.check(_lib.lib.graft_model_add_head(base._open_handle(), ctypes.byref(options)))
        self._attach(base, name)

    @classmethod
    def _from_base(cls, base: BaseModel, name: str = "functional") -> "TransferModel":
        """A TransferModel around a base whose library model has its head
        already (a model read by load_model)."""
        model = cls.__new__(cls)
        model._attach(base, name)
        return model

    def _attach(self, base: BaseModel, name: str) -> None:
        """Take the head's layers and size from the library model of `base`."""
        self.base = base
        self.name = name
        #: The History of the last fit (also after Ctrl-C stopped it), as in Keras.
        self.history: Optional[History] = None
        #: The optimizer of the last compile (None before).
        self.optimizer: Optional[Optimizer] = None
        #: Set by a callback to end the fit after the current epoch, as in Keras.
        self.stop_training = False
        # Whether the compiled loss takes one-hot labels (CategoricalCrossentropy).
        self._one_hot_labels = False
        # The compiled metrics' names in compile's order (None: not compiled here).
        self._metric_order: Optional[list[str]] = None
        with base._lock:
            handle = base._open_handle()
            self.num_classes = _lib.lib.graft_model_class_count(handle)
            # The classes the labels take: two for the binary head's one logit.
            self._label_classes = 2 if self.num_classes == 1 else self.num_classes
            count = _lib.lib.graft_model_layer_count(handle)
            start = len(base.layers)
            self._head_layers = [Layer(_lib.lib.graft_model_layer_name(handle, i).decode(), base, i)
                                 for i in range(start, count)]

    @property
    def layers(self) -> list[Layer]:
        """The base's layers, then the head's (the output Dense last)."""
        return self.base.layers + self._head_layers

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Layer:
        """The layer called `name`, or at position `index` of `layers`.

        Raises:
            ValueError: neither or both given, or no such layer.
        """
        if (name is None) == (index is None):
            raise ValueError("get_layer needs a layer name or an index (exactly one)")
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"layer index {index} is out of range: the model has {len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r} in the model; see [layer.name for layer in model.layers]")

    @property
    def class_names(self) -> Optional[list[str]]:
        """The names of the output classes, in output order, or None when the
        model has none yet. fit adopts a training folder's class names
        (image_dataset_from_directory) when the model has none, and refuses
        a folder whose classes differ; save and load_model keep them.
        Setting a list of num_classes strings (two for the binary head)
        names them."""
        with self.base._lock:
            handle = self.base._open_handle()
            names = [_lib.lib.graft_model_class_name(handle, i) for i in range(self._label_classes)]
        if not names or any(n is None for n in names):
            return None
        return [n.decode("utf-8", errors="replace") for n in names]

    @class_names.setter
    def class_names(self, names: Sequence[str]) -> None:
        if names is None or isinstance(names, (str, bytes)):
            raise TypeError(f"class_names must be a list of {self._label_classes} strings, received: {names!r}")
        names = list(names)
        if not all(isinstance(n, str) for n in names):
            raise TypeError(f"class_names must be strings, received: {names!r}")
        if len(names) != self._label_classes:
            raise ValueError(f"the model has {self._label_classes} classes, received {len(names)} names")
        encoded = [n.encode() for n in names]
        array = (ctypes.c_char_p * len(encoded))(*encoded)
        with self.base._lock:
            _lib.check(_lib.lib.graft_model_set_class_names(self.base._open_handle(), array, len(encoded)))

    @property
    def micro_batch_size(self) -> Optional[int]:
        """The most images a training step computes at once (Graft's
        addition): a larger batch runs in parts whose gradients are summed
        before one optimizer step, the step of the whole batch, in the memory
        of one part. None (the default): the engine's choice, from the
        activations each image keeps."""
        with self.base._lock:
            size = _lib.lib.graft_model_micro_batch_size(self.base._open_handle())
        return size or None

    @micro_batch_size.setter
    def micro_batch_size(self, size: Optional[int]) -> None:
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(f"micro_batch_size must be a positive int or None, received: {size!r}")
        with self.base._lock:
            _lib.check(_lib.lib.graft_model_set_micro_batch_size(self.base._open_handle(), size or 0))

    def compile(self, optimizer: Union[str, Optimizer] = "rmsprop", loss: Any = None,
                metrics: Optional[Sequence[str]] = None) -> None:
        """Sets the optimizer with fresh state (recompiling resets it, as in
        Keras); `model.optimizer` is then that optimizer, whose
        `learning_rate` and `iterations` are the model's.

        Args:
            optimizer: an optimizer from graft.optimizers, or Keras's name
                for one ("adam", "adamw", "sgd", "rmsprop"; Keras's
                defaults). Keras's default is "rmsprop".
            loss: None or graft.losses.SparseCategoricalCrossentropy(
                from_logits=True): the cross-entropy of integer labels and
                the head's logits, the mean over the batch; or
                graft.losses.CategoricalCrossentropy(from_logits=True,
                label_smoothing=...) for one-hot labels. For the binary
                head (num_classes=1): None or graft.losses.
                BinaryCrossentropy(from_logits=True, label_smoothing=...).
            metrics: None, or a list of "accuracy" (also "acc",
                "sparse_categorical_accuracy", "categorical_accuracy") and
                at most one graft.metrics.SparseTopKCategoricalAccuracy(k)
                or TopKCategoricalAccuracy(k) (also by Keras's string
                names, k=5); for the binary head, "accuracy",
                "binary_accuracy" or graft.metrics.BinaryAccuracy(
                threshold=...). fit and evaluate report accuracy under the
                name "accuracy" whatever the list, and the top-k accuracy
                under its name.

        Raises:
            ValueError: an unknown optimizer name, or a loss or metric that
                Graft does not compute (refused rather than ignored).
            GraftError: a value the library refuses (a learning rate that is
                not finite and positive, ...).
        """
        binary = self.num_classes == 1
        with self.base._lock:
            activation = _lib.lib.graft_model_output_activation(self.base._open_handle()).decode()
        loss_class, label_smoothing = losses._check(loss, binary, probabilities=activation != "linear")
        top_k, threshold, metric_order = _metrics._check(metrics, binary)
        optimizer = optimizers.get(optimizer)
        options, keep = optimizer._options()
        loss_options = _lib.graft_loss_options()
        _lib.lib.graft_loss_options_init_sized(ctypes.byref(loss_options), ctypes.sizeof(loss_options))
        loss_options.label_smoothing = label_smoothing
        if threshold is not None:
            loss_options.binary_threshold = threshold
        if top_k is not None:
            loss_options.top_k = top_k.k
            loss_options.top_k_name = top_k.name.encode()
        with self.base._lock:
            _lib.check(_lib.lib.graft_model_compile_with_loss(self.base._open_handle(), ctypes.byref(options),
                                                              ctypes.byref(loss_options)))
        del keep
        optimizer._model = self.base
        self.optimizer = optimizer
        self._one_hot_labels = loss_class is losses.CategoricalCrossentropy
        self._metric_order = metric_order

    def _compiled_optimizer(self) -> Optional[Optimizer]:
        """The library model's optimizer (a loaded model's) as a
        graft.optimizers object bound to it, or None when not compiled."""
        with self.base._lock:
            handle = self.base._open_handle()
            if _lib.lib.graft_model_optimizer_iterations(handle) < 0:
                return None
            config = json.loads(_lib.sized_text(_lib.lib.graft_model_optimizer_config, handle))
        optimizer = optimizers.deserialize(config)
        optimizer._model = self.base
        return optimizer

    def _top_k_name(self) -> Optional[str]:
        """The compiled top-k accuracy's name, or None."""
        with self.base._lock:
            name = _lib.lib.graft_model_top_k_name(self.base._open_handle())
        return name.decode() if name else None

    def _metric_names(self) -> list[str]:
        """The names of the metrics fit and evaluate report, in compile's order."""
        if self._metric_order is not None:
            return self._metric_order
        top_k = self._top_k_name()
        return ["accuracy"] + ([top_k] if top_k else [])

    def fit(self, x: Data, y: Optional[ArrayLike] = None, batch_size: Optional[int] = None, epochs: int = 1,
            verbose: Verbose = "auto", callbacks: Optional[Sequence[Callback]] = None,
            validation_split: float = 0.0,
            validation_data: Optional[Union[ImageDataset, Tuple[ArrayLike, ArrayLike]]] = None,
            shuffle: bool = True, class_weight: Optional[dict] = None, sample_weight: Optional[ArrayLike] = None,
            initial_epoch: int = 0, steps_per_epoch: Optional[int] = None, validation_steps: Optional[int] = None,
            validation_batch_size: Optional[int] = None, validation_freq: int = 1,
            seed: Optional[int] = None) -> History:
        """Train on a dataset, or on arrays (x, y) batched here, as Keras's fit.

        Args:
            x: an ImageDataset, or RGB images (n, height, width, 3), 0..255.
            y: class indices (n,) when x is an array; None for a dataset.
            batch_size: images per batch when x is an array (default 32).
            epochs: the epoch index to train up to (Keras's meaning: with
                initial_epoch=3, epochs=5 trains epochs 3 and 4); 0 trains
                nothing.
            verbose: 0 silent; 1 or "auto" (the default) a progress bar per
                epoch, redrawn in place on a terminal (one line per epoch in
                a file or pipe); 2 one line per epoch.
            callbacks: graft.callbacks objects (one of each built-in kind)
                and your own Callback subclasses.
            validation_split: with arrays, the fraction of them (the last
                ones, before shuffling, as Keras takes them) held out and
                evaluated after each epoch instead of validation_data.
            validation_data: an ImageDataset or (images, labels), evaluated
                after each epoch.
            shuffle, seed: order of the array batches (datasets keep theirs).
            initial_epoch: the epoch to start at, to resume a fit: each
                epoch has its own shuffle and flips, so the epochs run as
                they would have in one fit.
            class_weight: {class index: weight}: each image's loss scaled
                by its class's weight (1 for classes left out), the sum
                divided by the batch size, as Keras reduces it.
            sample_weight: with arrays, one weight per image, scaling its
                loss (not with class_weight, as in Keras).
            steps_per_epoch: None (one pass per epoch), or the batches of
                an epoch, as Keras 3 takes them: the data's passes laid end
                to end, an epoch ending early where a pass ends (10 batches,
                steps_per_epoch=4: epochs of 4, 4, 2, 4, ... batches).
            validation_steps, validation_batch_size, validation_freq:
                Keras's, not supported yet (anything but the default is
                refused).

        Returns:
            A History (also kept in `self.history`).

        Raises:
            KeyboardInterrupt: Ctrl-C. Training stops at the next batch
                boundary, the weights are those after the last whole batch
                and the model stays usable; `self.history` holds the
                completed epochs. (The SIGINT handler that was in place
                runs once training has stopped: Python's default raises
                KeyboardInterrupt; if a program's own handler does not
                raise, fit returns the History of the completed epochs.)
            ValueError: an argument Keras refuses or Graft does not support.
            GraftError: the model is not compiled, nothing is trainable, the
                data does not fit the model, an image cannot be read, or the
                loss became NaN or infinite (weights from before that batch).
        """
        unsupported = {"validation_steps": validation_steps is not None,
                       "validation_batch_size": validation_batch_size is not None,
                       "validation_freq": validation_freq != 1}
        for name, given in unsupported.items():
            if given:
                raise ValueError(f"fit's {name} is not supported by Graft yet; leave it at its default")
        level = verbosity(verbose)
        batch_size = 32 if batch_size is None else batch_size
        if sample_weight is not None:
            if isinstance(x, ImageDataset):
                raise ValueError("`sample_weight` argument is not supported when using a dataset as input")
            if class_weight is not None:
                raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
            sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float32).reshape(-1)
        if validation_split:
            if isinstance(x, ImageDataset):
                raise ValueError("`validation_split` is only supported for NumPy arrays; split a dataset with "
                                 "image_dataset_from_directory(validation_split=..., subset=...)")
            if validation_data is None:
                x, y, validation_data = _split_arrays(x, y, validation_split)
                if sample_weight is not None:
                    sample_weight = sample_weight[:len(x)]
        train = self._dataset(x, y, batch_size, shuffle, seed)
        validation = None
        if validation_data is not None:
            validation = (validation_data if isinstance(validation_data, ImageDataset)
                          else self._dataset(*validation_data, batch_size, False, None))
        run = _CallbackRun(self, callbacks or [],
                           params={"verbose": level, "epochs": epochs, "steps": steps_per_epoch or len(train)})
        options = run.options(epochs, initial_epoch)
        if steps_per_epoch is not None:
            steps = operator.index(steps_per_epoch)
            if not 1 <= steps <= 2**31 - 1:
                raise ValueError(f"steps_per_epoch must be None or from 1 to 2**31 - 1, received: {steps_per_epoch}")
            options.steps_per_epoch = steps
        if class_weight is not None:
            classes = self._label_classes
            weights = (ctypes.c_float * classes)(*[1.0] * classes)
            for label, weight in class_weight.items():
                if not 0 <= operator.index(label) < classes:
                    raise ValueError(f"class_weight has class {label}; the model has {classes} classes")
                weights[label] = weight
            options.class_weight = weights
            options.class_weight_count = classes
        if sample_weight is not None:
            options.sample_weight = sample_weight.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            options.sample_weight_count = sample_weight.size
        with self.base._lock:
            note = _lib.sized_text(_lib.lib.graft_model_feature_cache_note, self.base._open_handle())
        progress = Progress(level, epochs, top_k_name=self._top_k_name(), note=note)
        handle = ctypes.c_void_p()
        run.begin()
        status = self._run_with_progress(progress, lambda callback: _lib.lib.graft_model_fit_with_options(
            self.base._open_handle(), train._live_handle(),
            validation._live_handle() if validation is not None else None, ctypes.byref(options),
            callback, None, ctypes.byref(handle)), on_batch=run.batch_end, errors=run.errors)
        history = None
        if handle:
            try:
                history = self._history(handle)
                for callback in run.library:
                    callback._update(lambda name: _lib.lib.graft_history_callback_state(handle, name.encode()))
            finally:
                _lib.lib.graft_history_free(handle)
            history.params = run.params
            self.history = history
        status.raise_if_stopped()
        _lib.check(status.code)
        run.end()
        return history

    def _run_with_progress(self, progress: Progress, call: Callable[[Any], int],
                           on_batch: Optional[Callable[[Any], None]] = None,
                           errors: Optional[list] = None) -> "_RunStatus":
        """Run a library call that reports batches (fit, evaluate) under the
        model's lock, with `progress` drawing them (and `on_batch` given each
        batch's report) and Ctrl-C turned into a stop at the next batch
        boundary. `errors`: a list other callbacks of the call append to."""
        run = _RunStatus(errors)

        def report(pointer: Any, user: Any) -> int:
            # Whatever goes wrong here must not unwind through the library:
            # remember it, ask the library to stop, raise it afterwards.
            try:
                p = pointer.contents
                progress.report(p)
                if on_batch is not None and not p.epoch_end:
                    on_batch(p)
            except BaseException as error:  # noqa: BLE001 - re-raised after the call
                run.errors.append(error)
                return 1
            return 1 if run.interrupt.requested else 0

        callback = _lib.PROGRESS_FN(report)
        progress.begin()
        try:
            with run.interrupt, self.base._lock:
                run.code = call(callback)
        finally:
            progress.end()
        return run

    def _history(self, handle: ctypes.c_void_p) -> History:
        """A History from a graft_history handle (which the caller frees)."""
        epochs = _lib.lib.graft_history_epochs(handle)
        first = _lib.lib.graft_history_initial_epoch(handle)
        values: dict[str, list[float]] = {}
        metrics = sorted(["loss"] + self._metric_names())
        for metric in metrics + [f"val_{m}" for m in metrics] + ["learning_rate"]:  # Keras's order
            column = [_lib.lib.graft_history_value(handle, metric.encode(), e) for e in range(epochs)]
            if column and not all(math.isnan(v) for v in column):
                values[metric] = column
        return History(values, list(range(first, first + epochs)), bool(_lib.lib.graft_history_stopped(handle)))

    def evaluate(self, x: Data, y: Optional[ArrayLike] = None, batch_size: int = 32,
                 verbose: Verbose = "auto", return_dict: bool = False) -> Union[list[float], dict[str, float]]:
        """[loss, accuracy] over a dataset or arrays (no augmentation, no
        dropout), then the top-k accuracy when compiled with one (the
        metrics in compile's order, as Keras); with return_dict, a dict of
        the same figures by name, sorted as Keras sorts them
        ({"accuracy": ..., "loss": ...}).

        Args:
            x: an ImageDataset, or RGB images (n, height, width, 3), 0..255.
            y: class indices (n,) when x is an array; None for a dataset.
            batch_size: images per batch when x is an array.
            verbose: 0 silent; 1 or "auto" a progress bar; 2 one line at the end.

        Raises:
            KeyboardInterrupt: Ctrl-C (the evaluation stops at the next batch).
            GraftError: the data does not fit the model, an image cannot be read.
        """
        level = verbosity(verbose)
        dataset = self._dataset(x, y, batch_size, False, None)
        names = ["loss"] + self._metric_names()
        handle = ctypes.c_void_p()
        progress = Progress(level, None, top_k_name=self._top_k_name())
        status = self._run_with_progress(progress, lambda callback: _lib.lib.graft_model_evaluate_metrics(
            self.base._open_handle(), dataset._live_handle(), callback, None, ctypes.byref(handle)))
        status.raise_if_stopped()
        _lib.check(status.code)
        try:
            values = {name: _lib.lib.graft_history_value(handle, name.encode(), 0) for name in names}
        finally:
            _lib.lib.graft_history_free(handle)
        # Keras's order: the dict's keys sorted, the list in compile's order.
        return dict(sorted(values.items())) if return_dict else list(values.values())

    def predict(self, x: Data, batch_size: Optional[int] = None, verbose: Verbose = 0) -> np.ndarray:
        """Logits (n, num_classes) for RGB images (n, height, width, 3),
        pixels 0..255, or for every image of a dataset in its order. A model
        read from Keras whose output Dense has softmax or sigmoid gives what
        Keras gives: probabilities.

        `batch_size` and `verbose` are accepted for Keras's call shape; the
        library picks its own batches and prints nothing.

        Raises:
            ValueError: images of another shape than the model's input.
        """
        if isinstance(x, ImageDataset):
            parts = [self.predict(images) for images, _ in x._batches()]
            return np.concatenate(parts) if parts else np.empty((0, self.num_classes), dtype=np.float32)
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

    def __call__(self, x: ArrayLike, training: bool = False) -> np.ndarray:
        """Keras's `model(x)`: the logits of RGB images, as `predict`.

        Raises:
            ValueError: training=True (Graft's layers train only inside fit).
        """
        if training:
            raise ValueError("Graft runs the model in inference mode outside fit: training=True is not available")
        return self.predict(x)

    def get_weights(self) -> list[np.ndarray]:
        """Every weight of every layer, in layer order and Keras's order
        within a layer (BatchNormalization: gamma, beta, moving_mean,
        moving_variance), as Keras's `model.get_weights()`."""
        return [w for layer in self.layers for w in layer.get_weights()]

    def set_weights(self, weights: Sequence[ArrayLike]) -> None:
        """Replaces every weight, in `get_weights`' order and shapes.

        Raises:
            ValueError: another number of arrays or another shape (nothing
                is changed then).
        """
        current = [layer.get_weights() for layer in self.layers]
        count = sum(len(w) for w in current)
        if len(weights) != count:
            raise ValueError(f"You called `set_weights(weights)` on a model with {count} weights, but the provided "
                             f"weights list has {len(weights)} elements")
        arrays, start = [], 0
        for layer_weights in current:
            part = [np.asarray(w, dtype=np.float32) for w in weights[start:start + len(layer_weights)]]
            for new, old in zip(part, layer_weights):
                if new.shape != old.shape:
                    raise ValueError(f"a weight of shape {old.shape} received an array of shape {new.shape}")
            arrays.append(part)
            start += len(layer_weights)
        for layer, part in zip(self.layers, arrays):
            if part:
                layer.set_weights(part)

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        """The weights fit changes: those of the trainable layers, without
        BatchNormalization's moving statistics (copies, in layer order)."""
        with self.base._lock:
            kinds = [info.class_name for info in summary.layer_infos(self.base._open_handle(), len(self.layers))]
        weights = []
        for layer, kind in zip(self.layers, kinds):
            if layer.trainable:
                values = layer.get_weights()
                weights += values[:2] if kind == "BatchNormalization" else values
        return weights

    def summary(self, line_length: Optional[int] = None, positions: Optional[Sequence[float]] = None,
                print_fn: Optional[Callable[..., object]] = None, expand_nested: bool = False,
                show_trainable: bool = False, layer_range: Any = None) -> None:
        """Print the model as Keras's `model.summary()` prints a functional
        model: each layer's name and type, output shape, parameter count and
        inputs, then the total, trainable and non-trainable parameters with
        their sizes. BatchNormalization's moving mean and variance, and every
        weight of a frozen layer, count as non-trainable.

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
        with self.base._lock:
            text = summary.summary_text(self.base._open_handle(), self.name, line_length, positions, show_trainable,
                                        base_only=False)
        summary.print_summary(text, print_fn)

    def count_params(self) -> int:
        """Number of weights in the model (trainable or not)."""
        with self.base._lock:
            layers = summary.layer_infos(self.base._open_handle(), len(self.layers))
        return sum(layer.params for layer in layers)

    def save(self, filepath: Union[str, os.PathLike], overwrite: bool = True) -> None:
        """Write the whole model to one file, its format chosen by the
        extension as Keras chooses it:

        - ".keras": Keras 3's archive, which `keras.models.load_model` opens
          (the model as Keras's guide builds it: augmentation,
          preprocess_input, the base nested with training=False, the head)
          and `graft.load_model` reads back.
        - anything else (".h5"): Keras's legacy full-model HDF5 file
          (`model_config` and the weights under /model_weights, which
          `keras.models.load_model` opens too) plus, in group /graft, what
          Keras's format has no place for (class names, seed, optimizer
          options and state, int8 calibration).

        The file is written under a temporary name beside `filepath`, then
        renamed over it: a failed save leaves any previous file intact.

        Raises:
            FileExistsError: overwrite=False and the file exists.
            GraftError: the folder is not writable, the disk is full.
        """
        path = os.fspath(filepath)
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"{path} exists and overwrite=False")
        with self.base._lock:
            _lib.check(_lib.lib.graft_model_save(self.base._open_handle(), os.fsencode(path)))

    def save_weights(self, filepath: Union[str, os.PathLike], overwrite: bool = True) -> None:
        """Write the weights alone in Keras 3's format, as Keras's
        `save_weights`: `filepath` must end in ".weights.h5". The base is
        nested as one layer, as Keras's transfer-learning guide builds the
        model (`x = base_model(x, training=False)`), so that the same model
        built in Keras reads the file with `load_weights`. Written under a
        temporary name, then renamed over `filepath`.

        Raises:
            ValueError: another suffix.
            FileExistsError: overwrite=False and the file exists.
            GraftError: the folder is not writable, the disk is full.
        """
        path = os.fspath(filepath)
        if not path.endswith(".weights.h5"):
            raise ValueError(f"The filename must end in `.weights.h5`. Received: filepath={path}")
        if not overwrite and os.path.exists(path):
            raise FileExistsError(f"{path} exists and overwrite=False")
        with self.base._lock:
            _lib.check(_lib.lib.graft_model_save_weights(self.base._open_handle(), os.fsencode(path)))

    def load_weights(self, filepath: Union[str, os.PathLike], skip_mismatch: bool = False) -> None:
        """Set every weight from a file, as Keras's `load_weights`: a
        ".weights.h5" written by Keras's `save_weights` (the base nested, as
        Keras's guide builds the model, or flat) or by `save_weights`, a
        full-model ".h5" (Keras's `model.save` or `save`, the base nested or
        flat), or a legacy ".h5" holding every layer by name (Keras's legacy
        weights). Nothing changes unless every weight is found with the
        model's shape.

        Raises:
            ValueError: skip_mismatch=True (not supported), another suffix.
            FileNotFoundError: no such file.
            GraftError: a layer missing from the file, a weight of another shape.
        """
        if skip_mismatch:
            raise ValueError("Graft loads every weight or none: skip_mismatch=True is not supported")
        with self.base._lock:
            _lib.check(_lib.lib.graft_model_load_weights(self.base._open_handle(), os.fsencode(os.fspath(filepath))))

    def close(self) -> None:
        """Release the library model (shared with `base`). Calling it again does nothing."""
        self.base.close()

    def __enter__(self) -> "TransferModel":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _dataset(self, x: Data, y: Optional[ArrayLike], batch_size: int, shuffle: bool,
                 seed: Optional[int]) -> ImageDataset:
        """`x` if it is a dataset, else a dataset of the arrays (x, y)."""
        if isinstance(x, ImageDataset):
            if y is not None:
                raise ValueError("y must be None when x is a dataset (the labels come with it)")
            return x
        if y is None:
            raise ValueError("fit and evaluate on arrays need labels: call fit(x, y, ...)")
        return ImageDataset.from_arrays(x, self._class_indices(y), num_classes=self._label_classes,
                                        batch_size=batch_size, shuffle=shuffle, seed=seed)

    def _class_indices(self, y: ArrayLike) -> np.ndarray:
        """The labels as class indices: as they are for the default
        SparseCategoricalCrossentropy; one-hot rows (n, num_classes) turned
        into their classes for CategoricalCrossentropy; for the binary head,
        0 and 1 as (n,) or (n, 1) (label_mode="binary"'s float32 column)."""
        labels = np.asarray(y)
        if self.num_classes == 1:
            if labels.ndim == 2 and labels.shape[1] == 1:
                labels = labels[:, 0]
            if labels.ndim != 1 or not np.isin(labels, (0, 1)).all():
                raise ValueError("the binary head takes labels 0 and 1 of shape (n,) or (n, 1); soft labels are not "
                                 "supported")
            return labels.astype(np.int32)
        if not self._one_hot_labels:
            if labels.ndim == 2 and labels.shape[1] == self.num_classes and self.num_classes > 1:
                raise ValueError("one-hot labels need compile(loss=graft.losses.CategoricalCrossentropy("
                                 "from_logits=True)); SparseCategoricalCrossentropy takes class indices")
            return labels
        if labels.ndim != 2 or labels.shape[1] != self.num_classes:
            raise ValueError(f"CategoricalCrossentropy takes one-hot labels of shape (n, {self.num_classes}), "
                             f"received shape {labels.shape}")
        classes = labels.argmax(axis=1)
        if not np.array_equal(labels, np.eye(self.num_classes, dtype=labels.dtype)[classes]):
            raise ValueError("Graft takes one-hot labels (one 1 per row, zeros elsewhere); soft labels are not "
                             "supported")
        return classes

    def __repr__(self) -> str:
        return f"<graft TransferModel on {self.base.name}, {self.num_classes} classes>"


class _RunStatus:
    """The outcome of a library call run by TransferModel._run_with_progress."""

    def __init__(self, errors: Optional[list] = None) -> None:
        self.code = Status.OK
        self.interrupt = StopOnInterrupt()
        self.errors: list[BaseException] = errors if errors is not None else []

    def raise_if_stopped(self) -> None:
        """Raise what stopped the call: an error in the progress callback,
        or Ctrl-C (handed to the SIGINT handler in place before the call,
        which by default raises KeyboardInterrupt)."""
        if self.errors:
            raise self.errors[0]
        self.interrupt.deliver()


def _split_arrays(x: ArrayLike, y: Optional[ArrayLike], fraction: float) -> tuple:
    """Keras's validation_split: the last `fraction` of the arrays held out."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation_split must be between 0 and 1, received: {fraction}")
    images, labels = np.asarray(x), np.asarray(y)
    split_at = int(math.floor(len(images) * (1.0 - fraction)))
    if split_at == 0 or split_at == len(images):
        raise ValueError(f"Training data contains {len(images)} samples, which is not sufficient to split it into "
                         f"a validation and training set as specified by `validation_split={fraction}`. Either "
                         "provide more data, or a different value for the `validation_split` argument.")
    return images[:split_at], labels[:split_at], (images[split_at:], labels[split_at:])


class _CallbackRun:
    """A fit's callbacks: the library's configured in graft_fit_options, the
    others (Python's) called from the library's epoch and batch reports.
    An error in a Python callback stops the fit and is raised after it."""

    def __init__(self, model: TransferModel, callbacks: Sequence[Callback], params: dict) -> None:
        self.model, self.params = model, params
        self.top_k_name = model._top_k_name()
        self.library = [c for c in callbacks if isinstance(c, _LibraryCallback)]
        self.python = [c for c in callbacks if not isinstance(c, _LibraryCallback)]
        kinds = [type(c) for c in self.library]
        if len(set(kinds)) != len(kinds):
            raise ValueError("a fit takes one callback of each of EarlyStopping, ReduceLROnPlateau, ModelCheckpoint, "
                             "CSVLogger and TerminateOnNaN")
        for c in callbacks:
            if not isinstance(c, Callback):
                raise TypeError(f"callbacks must be graft.callbacks.Callback objects, received: {c!r}")
        self.errors: list[BaseException] = []
        self._keep: list = []

    def options(self, epochs: int, initial_epoch: int) -> _lib.graft_fit_options:
        options = _lib.graft_fit_options()
        _lib.lib.graft_fit_options_init_sized(ctypes.byref(options), ctypes.sizeof(options))
        options.epochs = operator.index(epochs)
        options.initial_epoch = operator.index(initial_epoch)
        for callback in self.library:
            callback._configure(options, self._keep)
        if self.python:
            functions = (_lib.EPOCH_FN(self._epoch_begin), _lib.EPOCH_FN(self._epoch_end))
            self._keep.append(functions)
            options.on_epoch_begin, options.on_epoch_end = functions
        options.log_learning_rate = int(any(isinstance(c, LearningRateScheduler) for c in self.python))
        return options

    def begin(self) -> None:
        self.model.stop_training = False
        for callback in self.python + self.library:
            callback.set_model(self.model)
            callback.set_params(self.params)
        for callback in self.python:
            callback.on_train_begin({})

    def end(self) -> None:
        for callback in self.python:
            callback.on_train_end({})

    def batch_end(self, report: Any) -> None:
        logs = {"accuracy": report.accuracy, "loss": report.loss}
        if self.top_k_name:
            logs[self.top_k_name] = report.top_k_accuracy
        for callback in self.python:
            callback.on_train_batch_end(report.step - 1, logs)

    def _call(self, state: Any, method: str, logs: dict) -> int:
        # Nothing may unwind through the library: keep the error, stop.
        try:
            for callback in self.python:
                getattr(callback, method)(state.contents.epoch, logs)
            if self.model.stop_training:
                state.contents.stop_training = 1
        except BaseException as error:  # noqa: BLE001 - raised after the fit
            self.errors.append(error)
            return 1
        return 0

    def _epoch_begin(self, state: Any, user: Any) -> int:
        return self._call(state, "on_epoch_begin", {})

    def _epoch_end(self, state: Any, user: Any) -> int:
        s, top_k = state.contents, self.top_k_name
        figures = [("accuracy", s.accuracy), ("loss", s.loss)] + ([(top_k, s.top_k_accuracy)] if top_k else [])
        figures += [("val_accuracy", s.val_accuracy), ("val_loss", s.val_loss)]
        figures += [(f"val_{top_k}", s.val_top_k_accuracy)] if top_k else []
        logs = {name: value for name, value in figures if not (name.startswith("val_") and math.isnan(value))}
        return self._call(state, "on_epoch_end", logs)


def load_model(filepath: Union[str, os.PathLike], threads: Optional[int] = None,
               precision: str = "float32") -> TransferModel:
    """Read a model written by `TransferModel.save`, or by Keras 3's
    `model.save` (a ".keras" archive or a full-model ".h5") when Graft can
    build it: a ResNet50/101/152 base, nested or flat, with or without its
    top, Keras's augmentation layers, preprocess_input or Rescaling(1/255),
    and a head of GlobalAveragePooling2D or Flatten, Dense layers with ReLU,
    Dropout and an output Dense of logits, softmax or sigmoid (`predict`
    then gives probabilities, as Keras's). A Keras model is not compiled
    (compile it as in Keras); its trainable flags are kept.

    It predicts exactly as the saved model did; if that one was compiled,
    this one has its optimizer, state included (step count and moments), so
    that `fit(..., initial_epoch=k)` after a save at the end of epoch k
    trains as the saved model would have; `model.optimizer` is that
    optimizer (its class and arguments as compiled, `learning_rate` and
    `iterations` the model's), as Keras's load_model gives it.
    `model.base` and `model.layers` work as for a model built with
    TransferModel.

    Args:
        filepath: the .h5 or .keras file.
        threads: worker threads; None or 0 for one per core.
        precision: number format of inference, "float32", "bfloat16" or
            "int8" (the last for a model saved after `base.calibrate`; see
            `graft.applications.ResNet50`).

    Raises:
        ValueError: a negative thread count or an unknown precision.
        GraftError: the file is missing or unreadable (status IO), or is not
            a model Graft reads: corrupt, of another format, a weights file
            alone, or a Keras model with a layer Graft does not build (FORMAT,
            naming the layer).
    """
    count = 0 if threads is None else operator.index(threads)
    if not 0 <= count <= 2**31 - 1:
        raise ValueError(f"threads must be None or from 0 to 2**31 - 1, received: {threads}")
    if precision not in _lib.PRECISION:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(_lib.PRECISION)}")
    handle = ctypes.c_void_p()
    _lib.check(_lib.lib.graft_model_load(os.fsencode(os.fspath(filepath)), count, ctypes.byref(handle)))
    model = TransferModel._from_base(BaseModel._from_handle(handle))
    model.base.precision = precision
    model.optimizer = model._compiled_optimizer()
    return model
