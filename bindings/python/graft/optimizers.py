"""Keras's optimizers, with Keras's argument names and defaults.

The defaults are the library's own (graft_optimizer_options_init), read once
at import: C programs, the `graft` command and Python get the same ones.
"""

from __future__ import annotations

import ctypes

from . import _lib


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


class Optimizer:
    """Base of the optimizers: what `compile` hands to the library."""

    kind = ""

    def _options(self) -> _lib.graft_optimizer_options:
        return _library_defaults(self.kind)


class SGD(Optimizer):
    """v = momentum·v − lr·g; w += v (nesterov: w += momentum·v − lr·g)."""

    kind = "sgd"

    def __init__(self, learning_rate: float = _decimal(_SGD.learning_rate), momentum: float = _decimal(_SGD.momentum),
                 nesterov: bool = bool(_SGD.nesterov)) -> None:
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov

    def _options(self) -> _lib.graft_optimizer_options:
        options = super()._options()
        options.learning_rate = self.learning_rate
        options.momentum = self.momentum
        options.nesterov = int(bool(self.nesterov))
        return options


class Adam(Optimizer):
    """Keras's Adam: w −= α·m/(sqrt(v) + ε), α = lr·sqrt(1 − β2^t)/(1 − β1^t)."""

    kind = "adam"

    def __init__(self, learning_rate: float = _decimal(_ADAM.learning_rate), beta_1: float = _ADAM.beta_1,
                 beta_2: float = _ADAM.beta_2, epsilon: float = _decimal(_ADAM.epsilon)) -> None:
        self.learning_rate = learning_rate
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon

    def _options(self) -> _lib.graft_optimizer_options:
        options = super()._options()
        options.learning_rate = self.learning_rate
        options.beta_1 = self.beta_1
        options.beta_2 = self.beta_2
        options.epsilon = self.epsilon
        return options
