"""Keras's optimizers, with Keras's argument names and defaults."""

from __future__ import annotations

import ctypes

from . import _lib


class Optimizer:
    """Base of the optimizers: what `compile` hands to the library."""

    kind = ""

    def _options(self) -> _lib.graft_optimizer_options:
        options = _lib.graft_optimizer_options()
        _lib.lib.graft_optimizer_options_init_sized(ctypes.byref(options), _lib.OPTIMIZER[self.kind],
                                                    ctypes.sizeof(options))
        return options


class SGD(Optimizer):
    """v = momentum·v − lr·g; w += v (nesterov: w += momentum·v − lr·g)."""

    kind = "sgd"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False) -> None:
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

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> None:
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
