"""Keras 3's optimizers, with Keras's argument names and defaults.

The defaults are the library's own (graft_optimizer_options_init), read once
at import: C programs, the `graft` command and Python get the same ones.

    optimizer = graft.optimizers.AdamW(learning_rate=1e-3, weight_decay=0.004, global_clipnorm=1.0)
    model.compile(optimizer=optimizer)      # or optimizer="adamw" for Keras's defaults
    model.fit(train, epochs=5)
    optimizer.learning_rate = 1e-4          # between fits, keeping the optimizer's state
    optimizer.iterations                    # steps taken

Every optimizer takes Keras's decoupled `weight_decay` (each step first
decays every trained weight, w -= w * weight_decay * learning_rate) and at
most one of `clipnorm`, `clipvalue` and `global_clipnorm`. `learning_rate`
is a number or a schedule from graft.optimizers.schedules.
"""

from __future__ import annotations

import ctypes
from typing import Any, Optional, Union

from .. import _lib
from . import schedules
from .schedules import LearningRateSchedule

LearningRate = Union[float, LearningRateSchedule]


def _library_defaults(kind: str) -> _lib.graft_optimizer_options:
    """The library's default options for optimizer `kind`."""
    options = _lib.graft_optimizer_options()
    _lib.lib.graft_optimizer_options_init_sized(ctypes.byref(options), _lib.OPTIMIZER[kind], ctypes.sizeof(options))
    return options


def _decimal(value: float) -> float:
    """A float32 default as the decimal it was written as (0.01, not
    0.009999999776482582)."""
    return float(f"{value:.7g}")


_SGD = _library_defaults("sgd")
_ADAM = _library_defaults("adam")
_ADAMW = _library_defaults("adamw")
_RMSPROP = _library_defaults("rmsprop")


class Optimizer:
    """Base of the optimizers: the arguments every Keras optimizer takes, and
    the state of a compiled one.

    Once a model is compiled with it, `learning_rate` and `iterations` are
    the model's optimizer's: the rate of the next step (a schedule's at the
    steps taken) and the steps taken. Setting `learning_rate` to a number
    keeps the optimizer's state (moments, steps); it is refused (TypeError)
    when the rate is a schedule, as Keras refuses it.
    """

    kind = ""

    def __init__(self, learning_rate: LearningRate, weight_decay: Optional[float] = None,
                 clipnorm: Optional[float] = None, clipvalue: Optional[float] = None,
                 global_clipnorm: Optional[float] = None, name: Optional[str] = None) -> None:
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. Received: "
                             f"clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}")
        self._learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.clipnorm = clipnorm
        self.clipvalue = clipvalue
        self.global_clipnorm = global_clipnorm
        self.name = name or type(self).__name__.lower()
        self._model: Any = None  # the BaseModel whose library model holds this optimizer's state

    @property
    def learning_rate(self) -> float:
        """The learning rate of the next step."""
        if self._model is None:
            rate = self._learning_rate
            return rate(0) if isinstance(rate, LearningRateSchedule) else float(rate)
        value = ctypes.c_float()
        with self._model._lock:
            _lib.check(_lib.lib.graft_model_learning_rate(self._model._open_handle(), ctypes.byref(value)))
        return value.value

    @learning_rate.setter
    def learning_rate(self, rate: LearningRate) -> None:
        if isinstance(self._learning_rate, LearningRateSchedule) and not isinstance(rate, LearningRateSchedule):
            raise TypeError("This optimizer was created with a `LearningRateSchedule` object as its "
                            "`learning_rate` constructor argument, hence its learning rate is not settable. If you "
                            "need the learning rate to be settable, you should instantiate the optimizer with a "
                            "float `learning_rate` argument.")
        if self._model is not None:
            if isinstance(rate, LearningRateSchedule):
                raise TypeError("a compiled optimizer's learning rate cannot become a schedule: compile again "
                                "with an optimizer built with it")
            with self._model._lock:
                _lib.check(_lib.lib.graft_model_set_learning_rate(self._model._open_handle(), rate))
        self._learning_rate = rate

    @property
    def iterations(self) -> int:
        """Optimizer steps taken since compile (0 before)."""
        if self._model is None:
            return 0
        with self._model._lock:
            return max(0, _lib.lib.graft_model_optimizer_iterations(self._model._open_handle()))

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, as Keras's get_config names them."""
        rate = self._learning_rate
        config = {"name": self.name, "learning_rate": rate.get_config() if isinstance(rate, LearningRateSchedule)
                  else rate, "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                  "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}
        return {**config, **self._own_config()}

    def _own_config(self) -> dict[str, Any]:
        return {}

    def _set_own_options(self, options: _lib.graft_optimizer_options) -> None:
        """Writes the optimizer's own arguments (momentum, betas, ...)."""

    def _options(self) -> tuple[_lib.graft_optimizer_options, Any]:
        """The C options, and what must stay alive while the library reads them."""
        options = _library_defaults(self.kind)
        keep: Any = None
        if isinstance(self._learning_rate, LearningRateSchedule):
            struct, arrays = self._learning_rate._struct()
            keep = (struct, arrays)
            options.learning_rate_schedule = ctypes.pointer(struct)
        else:
            options.learning_rate = self._learning_rate
        if self.weight_decay is not None:
            options.weight_decay = self.weight_decay
        for name in ("clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, name) is not None:
                setattr(options, name, getattr(self, name))
        self._set_own_options(options)
        return options, keep

    def __repr__(self) -> str:
        return f"<graft.optimizers.{type(self).__name__} learning_rate={self._learning_rate!r}>"


class SGD(Optimizer):
    """v = momentum·v − lr·g; w += v (nesterov: w += momentum·v − lr·g)."""

    kind = "sgd"

    def __init__(self, learning_rate: LearningRate = _decimal(_SGD.learning_rate),
                 momentum: float = _decimal(_SGD.momentum), nesterov: bool = bool(_SGD.nesterov),
                 weight_decay: Optional[float] = None, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None,
                 name: str = "SGD") -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.momentum = momentum
        self.nesterov = nesterov

    def _own_config(self) -> dict[str, Any]:
        return {"momentum": self.momentum, "nesterov": self.nesterov}

    def _set_own_options(self, options: _lib.graft_optimizer_options) -> None:
        options.momentum = self.momentum
        options.nesterov = int(bool(self.nesterov))


class Adam(Optimizer):
    """Keras's Adam: w −= α·m/(sqrt(v) + ε), α = lr·sqrt(1 − β2^t)/(1 − β1^t)."""

    kind = "adam"

    def __init__(self, learning_rate: LearningRate = _decimal(_ADAM.learning_rate), beta_1: float = _ADAM.beta_1,
                 beta_2: float = _ADAM.beta_2, epsilon: float = _decimal(_ADAM.epsilon),
                 weight_decay: Optional[float] = None, clipnorm: Optional[float] = None,
                 clipvalue: Optional[float] = None, global_clipnorm: Optional[float] = None,
                 name: str = "adam") -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _own_config(self) -> dict[str, Any]:
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}

    def _set_own_options(self, options: _lib.graft_optimizer_options) -> None:
        options.beta_1 = self.beta_1
        options.beta_2 = self.beta_2
        options.epsilon = self.epsilon


class AdamW(Adam):
    """Adam with Keras's decoupled weight decay (default 0.004): each step
    first w −= w·weight_decay·lr, then Adam's update."""

    kind = "adamw"

    def __init__(self, learning_rate: LearningRate = _decimal(_ADAMW.learning_rate),
                 weight_decay: float = _decimal(_ADAMW.weight_decay), beta_1: float = _ADAMW.beta_1,
                 beta_2: float = _ADAMW.beta_2, epsilon: float = _decimal(_ADAMW.epsilon),
                 clipnorm: Optional[float] = None, clipvalue: Optional[float] = None,
                 global_clipnorm: Optional[float] = None, name: str = "adamw") -> None:
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, clipnorm, clipvalue, global_clipnorm,
                         name)


class RMSprop(Optimizer):
    """v = ρ·v + (1 − ρ)·g²; increment = lr·g / sqrt(v + ε) (centered: the
    variance v − a², a the mean gradient); with momentum, m = momentum·m +
    increment and w −= m, else w −= increment."""

    kind = "rmsprop"

    def __init__(self, learning_rate: LearningRate = _decimal(_RMSPROP.learning_rate), rho: float = _RMSPROP.rho,
                 momentum: float = _decimal(_RMSPROP.momentum), epsilon: float = _decimal(_RMSPROP.epsilon),
                 centered: bool = bool(_RMSPROP.centered), weight_decay: Optional[float] = None,
                 clipnorm: Optional[float] = None, clipvalue: Optional[float] = None,
                 global_clipnorm: Optional[float] = None, name: str = "rmsprop") -> None:
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name)
        self.rho = rho
        self.momentum = momentum
        self.epsilon = epsilon
        self.centered = centered

    def _own_config(self) -> dict[str, Any]:
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon, "centered": self.centered}

    def _set_own_options(self, options: _lib.graft_optimizer_options) -> None:
        options.rho = self.rho
        options.momentum = self.momentum
        options.epsilon = self.epsilon
        options.centered = int(bool(self.centered))


_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def get(identifier: Union[str, Optimizer]) -> Optimizer:
    """An optimizer from Keras's name for it ("adam", "sgd", "adamw",
    "rmsprop", any case; Keras's defaults) or an Optimizer (returned as it is).

    Raises:
        ValueError: anything else.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _BY_NAME:
        return _BY_NAME[identifier.lower()]()
    raise ValueError(f"Could not interpret optimizer identifier: {identifier!r}")


def deserialize(config: dict[str, Any]) -> Optimizer:
    """An optimizer from Keras's serialized form ({"class_name": "Adam",
    "config": {...}}, a schedule nested the same way), as
    keras.optimizers.deserialize takes it.

    Raises:
        ValueError: a class or argument Graft does not have.
    """
    classes = {cls.__name__: cls for cls in _BY_NAME.values()}
    if config.get("class_name") not in classes:
        raise ValueError(f"Could not interpret optimizer: {config!r}")
    arguments = dict(config["config"])
    if isinstance(arguments.get("learning_rate"), dict):
        arguments["learning_rate"] = schedules.deserialize(arguments["learning_rate"])
    try:
        return classes[config["class_name"]](**arguments)
    except TypeError as error:
        raise ValueError(f"Could not interpret optimizer: {config!r} ({error})") from None


__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "deserialize", "get", "schedules"]
