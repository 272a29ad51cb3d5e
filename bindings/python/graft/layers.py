"""Keras's image augmentation layers, computed by libgraft.

Each takes Keras 3's arguments with Keras's defaults, and is called as
Keras's: `graft.layers.RandomRotation(0.1)(images)` returns the augmented
images as a float32 numpy array ((n, height, width, channels), or one
image without the batch axis); `training=False` returns them unchanged (as
float32). As in Keras, a call without `training` augments. Each call draws
anew; a layer built with a seed gives the same sequence of calls' pixels
in every run. The library checks the arguments as Keras does.

For a given draw the pixels are Keras's (TensorFlow's sampling, fill modes
and interpolation). Graft draws every image's values independently; Keras's
RandomCrop draws one position per batch.
"""

from __future__ import annotations

import ctypes
import operator
import random
from typing import Any, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _lib

Factor = Union[float, Sequence[float]]


class _AugmentationLayer:
    """What the layers share: the library's options struct and the call."""

    def __init__(self, seed: Optional[int], name: Optional[str]) -> None:
        self.seed = random.randint(1, 10**9) if seed is None else operator.index(seed)
        self.name = name or _snake_case(type(self).__name__)
        self._calls = 0

    def _fill(self, options: _lib.graft_augmentation) -> None:
        """Sets the layer's fields of `options` (already at its kind's defaults)."""
        raise NotImplementedError

    def _options(self) -> _lib.graft_augmentation:
        options = _lib.graft_augmentation()
        kind = _lib.AUGMENTATION_KIND[type(self).__name__]
        _lib.lib.graft_augmentation_init_sized(ctypes.byref(options), kind, ctypes.sizeof(options))
        self._fill(options)
        return options

    def _check(self) -> None:
        """The library's checks of the arguments (Keras's), at construction
        as in Keras."""
        size = ctypes.c_int32()
        _lib.check(_lib.lib.graft_augmentation_output_size(ctypes.byref(self._options()), 1, 1, 1,
                                                           ctypes.byref(size), ctypes.byref(size)))

    def __call__(self, images: ArrayLike, training: bool = True) -> np.ndarray:
        return augment([self], images, seed=self.seed, call=self._next_call() if training else None)

    def _next_call(self) -> int:
        self._calls += 1
        return self._calls - 1

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "seed": self.seed, **self._config()}

    def _config(self) -> dict[str, Any]:
        raise NotImplementedError

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self._config().items())
        return f"{type(self).__name__}({arguments})"


def _snake_case(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


def _set_factor(options, slot: str, name: str, factor: Optional[Factor]) -> None:
    """Keras's factor argument `name` (one number or a pair; None for none)
    into the struct's `slot`, "factor" or "width_factor", and its count."""
    values = [] if factor is None else [float(factor)] if np.ndim(factor) == 0 else [float(v) for v in factor]
    if factor is not None and len(values) not in (1, 2):
        raise ValueError(f"The `{name}` argument should be a number (or a list of two numbers). "
                         f"Received: {name}={factor}")
    array = getattr(options, slot)
    for i, v in enumerate(values):
        array[i] = v
    setattr(options, slot + "_count", len(values))


def _sampling(options, fill_mode: str, interpolation: str, fill_value: float) -> None:
    """fill_mode, interpolation and fill_value, refused in Keras's words."""
    if fill_mode not in _lib.FILL_MODE:
        raise NotImplementedError(f"Unknown `fill_mode` {fill_mode}. Expected of one "
                                  "('reflect', 'wrap', 'constant', 'nearest').")
    if interpolation not in ("nearest", "bilinear"):
        raise NotImplementedError(f"Unknown `interpolation` {interpolation}. Expected of one ('nearest', 'bilinear').")
    options.fill_mode = _lib.FILL_MODE[fill_mode]
    options.interpolation = _lib.INTERPOLATION[interpolation]
    options.fill_value = fill_value


class RandomFlip(_AugmentationLayer):
    """Keras's RandomFlip: "horizontal", "vertical" or
    "horizontal_and_vertical" (the two axes drawn independently, as Keras
    documents the mode; keras 3.15.1 flips both or neither)."""

    def __init__(self, mode: str = "horizontal_and_vertical", seed: Optional[int] = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        if mode is None or mode not in _lib.FLIP:
            raise ValueError(f'RandomFlip mode must be "horizontal", "vertical" or "horizontal_and_vertical", '
                             f"received: mode={mode!r}")
        self.mode = mode
        super().__init__(seed, name)

    def _fill(self, options) -> None:
        options.flip = _lib.FLIP[self.mode]

    def _config(self) -> dict[str, Any]:
        return {"mode": self.mode}


class _Geometric(_AugmentationLayer):
    """RandomRotation, RandomZoom and RandomTranslation's sampling arguments."""

    def __init__(self, fill_mode: str, interpolation: str, fill_value: float, seed, name) -> None:
        self.fill_mode, self.interpolation, self.fill_value = fill_mode, interpolation, float(fill_value)
        super().__init__(seed, name)
        self._check()

    def _fill_sampling(self, options) -> None:
        _sampling(options, self.fill_mode, self.interpolation, self.fill_value)

    def _sampling_config(self) -> dict[str, Any]:
        return {"fill_mode": self.fill_mode, "interpolation": self.interpolation, "fill_value": self.fill_value}


class RandomRotation(_Geometric):
    """Keras's RandomRotation: an angle of factor × 2π, drawn per image, about
    the centre (a number f: -f..f)."""

    def __init__(self, factor: Factor, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: Optional[int] = None, fill_value: float = 0.0, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        self.factor = factor
        super().__init__(fill_mode, interpolation, fill_value, seed, name)

    def _fill(self, options) -> None:
        _set_factor(options, "factor", "factor", self.factor)
        self._fill_sampling(options)

    def _config(self) -> dict[str, Any]:
        return {"factor": self.factor, **self._sampling_config()}


class _HeightWidth(_Geometric):
    """RandomZoom and RandomTranslation: a height and a width factor."""

    def __init__(self, height_factor: Factor, width_factor: Optional[Factor], fill_mode: str, interpolation: str,
                 fill_value: float, seed: Optional[int], name: Optional[str]) -> None:
        self.height_factor, self.width_factor = height_factor, width_factor
        super().__init__(fill_mode, interpolation, fill_value, seed, name)

    def _fill(self, options) -> None:
        _set_factor(options, "factor", "height_factor", self.height_factor)
        _set_factor(options, "width_factor", "width_factor", self.width_factor)
        self._fill_sampling(options)

    def _config(self) -> dict[str, Any]:
        return {"height_factor": self.height_factor, "width_factor": self.width_factor, **self._sampling_config()}


class RandomZoom(_HeightWidth):
    """Keras's RandomZoom: height and width scaled by 1 + factor about the
    centre (positive: zoomed out); without width_factor the aspect ratio is
    kept."""

    def __init__(self, height_factor: Factor, width_factor: Optional[Factor] = None, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: Optional[int] = None, fill_value: float = 0.0,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(height_factor, width_factor, fill_mode, interpolation, fill_value, seed, name)


class RandomTranslation(_HeightWidth):
    """Keras's RandomTranslation: shifted by height_factor × height (down)
    and width_factor × width (right)."""

    def __init__(self, height_factor: Factor, width_factor: Factor, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: Optional[int] = None, fill_value: float = 0.0,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(height_factor, width_factor, fill_mode, interpolation, fill_value, seed, name)


class RandomCrop(_AugmentationLayer):
    """Keras's RandomCrop: a height × width window while training (at a
    random position when the image is larger both ways, else centred and
    stretched); the identity otherwise, as Keras's."""

    def __init__(self, height: int, width: int, seed: Optional[int] = None, name: Optional[str] = None,
                 **kwargs: Any) -> None:
        self.height, self.width = operator.index(height), operator.index(width)
        super().__init__(seed, name)
        self._check()

    def _fill(self, options) -> None:
        options.height, options.width = self.height, self.width

    def _config(self) -> dict[str, Any]:
        return {"height": self.height, "width": self.width}


class _ValueLayer(_AugmentationLayer):
    """RandomContrast and RandomBrightness: a factor and a value range."""

    def __init__(self, factor: Factor, value_range: Sequence[float], seed, name) -> None:
        if len(value_range) != 2:
            raise ValueError("The `value_range` argument should be a list of two numbers. "
                             f"Received: value_range={value_range}")
        self.factor, self.value_range = factor, tuple(value_range)
        super().__init__(seed, name)
        self._check()

    def _fill(self, options) -> None:
        _set_factor(options, "factor", "factor", self.factor)
        options.value_range[0], options.value_range[1] = self.value_range

    def _config(self) -> dict[str, Any]:
        return {"factor": self.factor, "value_range": self.value_range}


class RandomContrast(_ValueLayer):
    """Keras's RandomContrast: (x - mean) × c + mean per channel, clipped to
    value_range, c drawn from 1 - lower..1 + upper of the factor's range (a
    number f: 1..1 + f, as in Keras)."""

    def __init__(self, factor: Factor, value_range: Sequence[float] = (0, 255), seed: Optional[int] = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(factor, value_range, seed, name)


class RandomBrightness(_ValueLayer):
    """Keras's RandomBrightness: adds factor × (value_range's width), drawn
    per image, then clips to value_range."""

    def __init__(self, factor: Factor, value_range: Sequence[float] = (0, 255), seed: Optional[int] = None,
                 name: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(factor, value_range, seed, name)


def augment(layers: Sequence[_AugmentationLayer], images: ArrayLike, seed: int, call: Optional[int]) -> np.ndarray:
    """`layers` applied in order to `images` by the library, draws from
    (seed, call); call None: not training, the images as float32."""
    array = np.ascontiguousarray(images, dtype=np.float32)
    single = array.ndim == 3
    if single:
        array = array[None]
    if array.ndim != 4 or not 1 <= array.shape[3] <= 4:
        raise ValueError(f"images must have shape (n, height, width, channels) or (height, width, channels) with "
                         f"1 to 4 channels, received: {np.shape(images)}")
    if call is None or not layers:
        return array[0].copy() if single else array.copy()
    count = len(layers)
    options = (_lib.graft_augmentation * count)(*[layer._options() for layer in layers])
    n, height, width, channels = array.shape
    out_height, out_width = ctypes.c_int32(), ctypes.c_int32()
    _lib.check(_lib.lib.graft_augmentation_output_size(options, count, height, width, ctypes.byref(out_height),
                                                       ctypes.byref(out_width)))
    out = np.empty((n, out_height.value, out_width.value, channels), dtype=np.float32)
    _lib.check(_lib.lib.graft_augment(options, count, seed, call, array.ctypes.data, n, height, width, channels,
                                      out.ctypes.data, out.size))
    return out[0] if single else out


__all__ = ["RandomBrightness", "RandomContrast", "RandomCrop", "RandomFlip", "RandomRotation", "RandomTranslation",
           "RandomZoom"]
