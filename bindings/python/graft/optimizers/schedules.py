"""Keras's learning-rate schedules (keras.optimizers.schedules), with Keras's
names, arguments and defaults.

A schedule gives the learning rate of each optimizer step, counted as Keras
counts them (the first step takes the rate at step 0):

    schedule = graft.optimizers.schedules.CosineDecay(0.0, decay_steps=1000,
                                                      warmup_target=1e-3, warmup_steps=100)
    model.compile(optimizer=graft.optimizers.Adam(learning_rate=schedule))
    schedule(50)   # 0.0005

The formulas are the library's (graft_learning_rate_schedule_value): calling
a schedule here gives exactly the rate training uses.
"""

from __future__ import annotations

import ctypes
import math
from typing import Any, Optional, Sequence

from .. import _lib


def _library_defaults(kind: str) -> _lib.graft_learning_rate_schedule:
    schedule = _lib.graft_learning_rate_schedule()
    _lib.lib.graft_learning_rate_schedule_init_sized(ctypes.byref(schedule), _lib.SCHEDULE[kind],
                                                     ctypes.sizeof(schedule))
    return schedule


_POLYNOMIAL = _library_defaults("PolynomialDecay")
_COSINE = _library_defaults("CosineDecay")


class LearningRateSchedule:
    """Base of the schedules: a callable of the step, and the struct the
    library reads."""

    def __call__(self, step: int) -> float:
        """The learning rate of optimizer step `step` (0-based)."""
        rate = ctypes.c_float()
        struct, _keep = self._struct()
        _lib.check(_lib.lib.graft_learning_rate_schedule_value(ctypes.byref(struct), int(step), ctypes.byref(rate)))
        return rate.value

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments, as Keras's get_config gives them."""
        return dict(self._config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "LearningRateSchedule":
        return cls(**config)

    def _struct(self) -> tuple[_lib.graft_learning_rate_schedule, tuple]:
        """The C struct, and what must stay alive while the library reads it."""
        struct = _library_defaults(type(self).__name__)
        arrays: tuple = ()
        for name, value in self._config.items():
            if name == "name":
                continue
            if name == "warmup_target" and value is None:
                value = math.nan
            if name in ("boundaries", "values"):
                ctype = ctypes.c_int64 if name == "boundaries" else ctypes.c_float
                array = (ctype * len(value))(*value)
                arrays += (array,)
                setattr(struct, name, array)
                continue
            setattr(struct, name, int(value) if isinstance(value, bool) else value)
        if "values" in self._config:
            struct.values_count = len(self._config["values"])
        return struct, arrays

    def __repr__(self) -> str:
        arguments = ", ".join(f"{k}={v!r}" for k, v in self._config.items() if k != "name")
        return f"{type(self).__name__}({arguments})"


class ExponentialDecay(LearningRateSchedule):
    """initial_learning_rate * decay_rate ^ (step / decay_steps), the exponent
    floored with `staircase`."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str = "ExponentialDecay") -> None:
        self._config = {"initial_learning_rate": initial_learning_rate, "decay_steps": decay_steps,
                        "decay_rate": decay_rate, "staircase": staircase, "name": name}
        self(0)  # the library checks the arguments


class PiecewiseConstantDecay(LearningRateSchedule):
    """values[0] while step <= boundaries[0], values[i] while
    boundaries[i-1] < step <= boundaries[i], values[-1] after."""

    def __init__(self, boundaries: Sequence[int], values: Sequence[float], name: str = "PiecewiseConstant") -> None:
        if len(boundaries) != len(values) - 1:
            raise ValueError("The length of boundaries should be 1 less than the length of values. "
                             f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                             f"values={values} of length {len(values)}.")
        self._config = {"boundaries": list(boundaries), "values": list(values), "name": name}
        self(0)


class InverseTimeDecay(LearningRateSchedule):
    """initial_learning_rate / (1 + decay_rate * step / decay_steps), the
    quotient floored with `staircase`."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float, staircase: bool = False,
                 name: str = "InverseTimeDecay") -> None:
        self._config = {"initial_learning_rate": initial_learning_rate, "decay_steps": decay_steps,
                        "decay_rate": decay_rate, "staircase": staircase, "name": name}
        self(0)


class PolynomialDecay(LearningRateSchedule):
    """(initial - end) * (1 - step / decay_steps) ^ power + end, the step
    held at decay_steps; with `cycle`, decay_steps grows to the first
    multiple of itself at or past the step instead."""

    def __init__(self, initial_learning_rate: float, decay_steps: int,
                 end_learning_rate: float = float(f"{_POLYNOMIAL.end_learning_rate:.7g}"),
                 power: float = _POLYNOMIAL.power, cycle: bool = bool(_POLYNOMIAL.cycle),
                 name: str = "PolynomialDecay") -> None:
        self._config = {"initial_learning_rate": initial_learning_rate, "decay_steps": decay_steps,
                        "end_learning_rate": end_learning_rate, "power": power, "cycle": cycle, "name": name}
        self(0)


class CosineDecay(LearningRateSchedule):
    """A linear warm-up from initial_learning_rate to `warmup_target` over
    `warmup_steps` (when a target is given), then a half-cosine over
    `decay_steps` down to alpha times the rate it started from."""

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = _COSINE.alpha,
                 name: str = "CosineDecay", warmup_target: Optional[float] = None,
                 warmup_steps: int = _COSINE.warmup_steps) -> None:
        self._config = {"initial_learning_rate": initial_learning_rate, "decay_steps": decay_steps, "alpha": alpha,
                        "name": name, "warmup_target": warmup_target, "warmup_steps": warmup_steps}
        self(0)


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    """A schedule from Keras's serialized form ({"class_name": "CosineDecay",
    "config": {...}}), as keras.optimizers.schedules.deserialize takes it.

    Raises:
        ValueError: a class Graft does not have.
    """
    classes = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, InverseTimeDecay,
                                             PolynomialDecay, CosineDecay)}
    if config.get("class_name") not in classes:
        raise ValueError(f"Could not interpret learning rate schedule: {config!r}")
    return classes[config["class_name"]].from_config(config["config"])


__all__ = ["CosineDecay", "ExponentialDecay", "InverseTimeDecay", "LearningRateSchedule", "PiecewiseConstantDecay",
           "PolynomialDecay", "deserialize"]
