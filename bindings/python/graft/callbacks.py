"""Keras's callbacks, with Keras's names, arguments and defaults.

    early = graft.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    model.fit(train, epochs=20, validation_data=val, callbacks=[
        early,
        graft.callbacks.ModelCheckpoint("best.h5", save_best_only=True),
        graft.callbacks.ReduceLROnPlateau(factor=0.2, patience=2),
        graft.callbacks.CSVLogger("history.csv"),
    ])
    model.fit(train, epochs=5, validation_data=val, callbacks=[early])   # starts afresh, as in Keras

EarlyStopping, ReduceLROnPlateau, ModelCheckpoint, CSVLogger and
TerminateOnNaN are the library's own (graft_fit_options): their decisions are
those C programs and the `graft` command get, checked against Keras's. A fit
takes one of each. Subclass `Callback` for your own: its `on_epoch_begin`,
`on_epoch_end`, `on_train_batch_end`, `on_train_begin` and `on_train_end`
are called as Keras calls them, with `self.model` the model being fitted;
setting `self.model.stop_training = True` ends the fit after the epoch, and
at an epoch's beginning or end the model may be used (its weights, save,
evaluate, `self.model.optimizer.learning_rate = ...`). Your callbacks run
before the built-in ones at each epoch's end.
"""

from __future__ import annotations

import ctypes
import math
import os
from typing import Any, Callable, Optional

from . import _lib


def _library_defaults() -> _lib.graft_fit_options:
    """The library's defaults of the callbacks (graft_fit_options_init)."""
    options = _lib.graft_fit_options()
    _lib.lib.graft_fit_options_init_sized(ctypes.byref(options), ctypes.sizeof(options))
    return options


_DEFAULTS = _library_defaults()
_EARLY = _DEFAULTS.early_stopping
_REDUCE = _DEFAULTS.reduce_lr_on_plateau
_MONITOR = _EARLY.monitor.decode()


class Callback:
    """Base of the callbacks: override the methods you need."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Optional[dict] = None) -> None:
        """Before the first epoch."""

    def on_train_end(self, logs: Optional[dict] = None) -> None:
        """After the last epoch (not when the fit failed or was interrupted)."""

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        """Before epoch `epoch` (0-based)."""

    def on_epoch_end(self, epoch: int, logs: Optional[dict] = None) -> None:
        """After epoch `epoch` and its validation; `logs` holds "accuracy",
        "loss" (and "val_accuracy", "val_loss")."""

    def on_train_batch_end(self, batch: int, logs: Optional[dict] = None) -> None:
        """After batch `batch` (0-based, within the epoch); `logs` holds the
        running "accuracy" and "loss" of the epoch."""


class _LibraryCallback(Callback):
    """A callback the library runs: it fills its part of graft_fit_options,
    and takes back its state when the fit ends (its Keras attributes)."""

    #: The Keras attributes the library reports, by the name it reports them under.
    _state: dict[str, str] = {}

    def _configure(self, options: _lib.graft_fit_options, keep: list) -> None:
        raise NotImplementedError

    def _update(self, value: Callable[[str], float]) -> None:
        """Takes the state the fit ended with (graft_history_callback_state)."""
        for name, attribute in self._state.items():
            number = value(name)
            if attribute == "best":
                setattr(self, attribute, None if math.isnan(number) else number)
            elif not math.isnan(number):
                setattr(self, attribute, int(number))

    @staticmethod
    def _mode(mode: str) -> int:
        if mode not in _lib.MONITOR_MODE:
            raise ValueError(f'mode must be "auto", "min" or "max", received: {mode!r}')
        return _lib.MONITOR_MODE[mode]

    @staticmethod
    def _text(value: str, keep: list) -> bytes:
        encoded = os.fsencode(value)
        keep.append(encoded)
        return encoded


class EarlyStopping(_LibraryCallback):
    """Stop when `monitor` has not improved by `min_delta` for `patience`
    epochs (from `start_from_epoch` on); with `restore_best_weights`, the
    weights of the best epoch are put back when the fit ends."""

    def __init__(self, monitor: str = _MONITOR, min_delta: float = _EARLY.min_delta, patience: int = _EARLY.patience,
                 verbose: int = 0, mode: str = "auto", baseline: Optional[float] = None,
                 restore_best_weights: bool = bool(_EARLY.restore_best_weights),
                 start_from_epoch: int = _EARLY.start_from_epoch) -> None:
        super().__init__()
        self.monitor, self.min_delta, self.patience, self.verbose = monitor, min_delta, patience, verbose
        self.mode, self.baseline, self.restore_best_weights = mode, baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self._mode(mode)
        self.wait, self.stopped_epoch, self.best, self.best_epoch = 0, 0, None, 0

    _state = {"early_stopping.stopped_epoch": "stopped_epoch", "early_stopping.best_epoch": "best_epoch",
              "early_stopping.wait": "wait", "early_stopping.best": "best"}

    def _configure(self, options: _lib.graft_fit_options, keep: list) -> None:
        e = options.early_stopping
        e.enabled = 1
        e.monitor = self._text(self.monitor, keep)
        e.mode = self._mode(self.mode)
        e.min_delta = self.min_delta
        e.patience = self.patience
        e.baseline = math.nan if self.baseline is None else self.baseline
        e.restore_best_weights = int(bool(self.restore_best_weights))
        e.start_from_epoch = self.start_from_epoch


class ReduceLROnPlateau(_LibraryCallback):
    """The learning rate times `factor` (not below `min_lr`) when `monitor`
    has not improved by `min_delta` for `patience` epochs, then `cooldown`
    epochs before counting again."""

    def __init__(self, monitor: str = _MONITOR, factor: float = _REDUCE.factor, patience: int = _REDUCE.patience,
                 verbose: int = 0, mode: str = "auto", min_delta: float = _REDUCE.min_delta,
                 cooldown: int = _REDUCE.cooldown, min_lr: float = _REDUCE.min_lr) -> None:
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.mode, self.min_delta, self.cooldown, self.min_lr = mode, min_delta, cooldown, min_lr
        self._mode(mode)
        self.wait, self.cooldown_counter, self.best = 0, 0, None

    _state = {"reduce_lr_on_plateau.wait": "wait", "reduce_lr_on_plateau.cooldown_counter": "cooldown_counter",
              "reduce_lr_on_plateau.best": "best"}

    def _configure(self, options: _lib.graft_fit_options, keep: list) -> None:
        r = options.reduce_lr_on_plateau
        r.enabled = 1
        r.monitor = self._text(self.monitor, keep)
        r.mode = self._mode(self.mode)
        r.min_delta = self.min_delta
        r.factor = self.factor
        r.patience = self.patience
        r.cooldown = self.cooldown
        r.min_lr = self.min_lr


class ModelCheckpoint(_LibraryCallback):
    """Save the model after every epoch to `filepath` formatted with the
    epoch and its figures ("model-{epoch:02d}-{val_loss:.2f}.h5"), or only
    when `monitor` improved (`save_best_only`). The file is Graft's model
    file (`model.save`, a .h5 that Keras's load_weights reads), or with
    save_weights_only the weights alone in Keras 3's format
    (`model.save_weights`, a path ending in ".weights.h5")."""

    def __init__(self, filepath: str | os.PathLike, monitor: str = _MONITOR, verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq: str = "epoch", initial_value_threshold: Optional[float] = None) -> None:
        super().__init__()
        self.filepath = os.fspath(filepath)
        if save_freq != "epoch":
            raise ValueError(f'Graft saves checkpoints once per epoch: save_freq must be "epoch", received: '
                             f"{save_freq!r}")
        if save_weights_only and not self.filepath.endswith(".weights.h5"):
            raise ValueError("When using `save_weights_only=True` in `ModelCheckpoint`, the filepath provided must "
                             f"end in `.weights.h5` (Keras weights format). Received: filepath={self.filepath}")
        if not save_weights_only and not self.filepath.endswith(".keras") and (
                not self.filepath.endswith(".h5") or self.filepath.endswith(".weights.h5")):
            raise ValueError("The filepath provided must end in `.keras` (Keras model format) or `.h5` (a "
                             f"`.weights.h5` path takes save_weights_only=True). Received: filepath={self.filepath}")
        self.monitor, self.verbose, self.save_best_only, self.mode = monitor, verbose, save_best_only, mode
        self.save_weights_only = save_weights_only
        self._mode(mode)
        # As Keras's: the best so far, kept from one fit to the next.
        self.best = initial_value_threshold

    _state = {"checkpoint.best": "best"}

    def _configure(self, options: _lib.graft_fit_options, keep: list) -> None:
        c = options.checkpoint
        c.filepath = self._text(self.filepath, keep)
        c.monitor = self._text(self.monitor, keep)
        c.mode = self._mode(self.mode)
        c.save_best_only = int(bool(self.save_best_only))
        options.checkpoint_save_weights_only = int(bool(self.save_weights_only))
        c.initial_value_threshold = math.nan if self.best is None else self.best


class CSVLogger(_LibraryCallback):
    """One row per epoch in `filename`, as Keras writes it: "epoch"
    (0-based), then the figures by name; `append` keeps what the file holds."""

    def __init__(self, filename: str | os.PathLike, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        if separator != ",":
            raise ValueError(f'Graft\'s CSVLogger writes commas: separator must be ",", received: {separator!r}')
        self.filename, self.separator, self.append = os.fspath(filename), separator, append

    def _configure(self, options: _lib.graft_fit_options, keep: list) -> None:
        options.csv_logger = self._text(self.filename, keep)
        options.csv_append = int(bool(self.append))


class TerminateOnNaN(_LibraryCallback):
    """A loss that is not finite ends the fit there (that epoch, its loss
    NaN, is the last; its batch's step is not applied) instead of raising."""

    def _configure(self, options: _lib.graft_fit_options, keep: list) -> None:
        options.terminate_on_nan = 1


class LearningRateScheduler(Callback):
    """Before each epoch, the learning rate becomes `schedule(epoch, lr)`."""

    def __init__(self, schedule: Callable[[int, float], float], verbose: int = 0) -> None:
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: Optional[dict] = None) -> None:
        rate = self.schedule(epoch, self.model.optimizer.learning_rate)
        if not isinstance(rate, (float, int)):
            raise ValueError(f'The output of the "schedule" function should be a float. Got: {rate}')
        self.model.optimizer.learning_rate = float(rate)


__all__ = ["CSVLogger", "Callback", "EarlyStopping", "LearningRateScheduler", "ModelCheckpoint", "ReduceLROnPlateau",
           "TerminateOnNaN"]
