"""graft.layers against Keras's own augmentation layers, live: for a given
draw (fixed by a degenerate factor range where Keras allows one), the
pixels are Keras's within 1e-3 of 255, for every fill mode and
interpolation."""

from __future__ import annotations

import os

import numpy as np
import pytest

import graft

# Keras is the reference, installed into .venv by `make test`: no skipping.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

FILL_MODES = ["reflect", "wrap", "constant", "nearest"]
INTERPOLATIONS = ["bilinear", "nearest"]
# Both sides sample in float32 from the same coordinates; bilinear weights
# may differ in the last bits (TensorFlow's sin and cos against the C
# library's), which moves a value by a few 1e-5 of 255: far inside the bar.
TOLERANCE = 1e-3 * 255


def images(n: int = 3, height: int = 11, width: int = 14, channels: int = 3) -> np.ndarray:
    """Smooth gradients with an edge and noise: every fill and weight shows."""
    rng = np.random.default_rng(5)
    y, x = np.mgrid[0:height, 0:width]
    base = 20 + 8 * x[None, ..., None] + 5 * y[None, ..., None] + rng.uniform(0, 60, (n, 1, 1, channels))
    base[:, : height // 2, : width // 3] += 70
    return np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.float32)


def keras_apply(layer, x: np.ndarray) -> np.ndarray:
    return np.asarray(layer(x, training=True))


@pytest.mark.parametrize("fill_mode", FILL_MODES)
@pytest.mark.parametrize("interpolation", INTERPOLATIONS)
@pytest.mark.parametrize("kind", ["rotation", "zoom", "zoom_both", "translation"])
def test_geometric_layers_equal_keras(kind: str, fill_mode: str, interpolation: str) -> None:
    sampling = {"fill_mode": fill_mode, "interpolation": interpolation, "fill_value": 37.0}
    made = {
        "rotation": lambda m: m.RandomRotation(factor=(0.1, 0.1), **sampling),
        "zoom": lambda m: m.RandomZoom((-0.2, -0.2), **sampling),
        "zoom_both": lambda m: m.RandomZoom((0.3, 0.3), width_factor=(-0.15, -0.15), **sampling),
        "translation": lambda m: m.RandomTranslation((0.23, 0.23), (-0.31, -0.31), **sampling),
    }[kind]
    x = images()
    ours = made(graft.layers)(x, training=True)
    theirs = keras_apply(made(keras.layers), x)
    assert ours.shape == theirs.shape and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() <= TOLERANCE
    assert np.abs(ours - x).max() > 10  # the transform did something


# Shifts in pixels of an image 9 wide: half pixels, a half image, the whole.
@pytest.mark.parametrize("shift", [0.5, -0.5, 4.5, 9.0, -9.0])
@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_large_and_half_pixel_shifts(shift: float, fill_mode: str) -> None:
    """Shifts of whole images and half pixels, where TensorFlow's fill
    modes show their quirks (wrap's divisor, nearest's rounding)."""
    x = images(n=2, height=7, width=9, channels=1)
    for interpolation in INTERPOLATIONS:
        arguments = {"fill_mode": fill_mode, "interpolation": interpolation, "fill_value": -5.0}
        factor = (shift / 9, shift / 9)
        ours = graft.layers.RandomTranslation((0.0, 0.0), factor, **arguments)(x)
        theirs = keras_apply(keras.layers.RandomTranslation((0.0, 0.0), factor, **arguments), x)
        assert np.abs(ours - theirs).max() <= TOLERANCE, (interpolation, factor)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_value_layers_equal_keras(channels: int) -> None:
    x = images(channels=channels)
    # RandomContrast's factor (−c, c) gives the range [1 + c, 1 + c): a fixed draw.
    for factor, value_range in [((-0.3, 0.3), (0, 255)), ((-0.45, 0.45), (20, 200))]:
        ours = graft.layers.RandomContrast(factor, value_range=value_range)(x)
        theirs = keras_apply(keras.layers.RandomContrast(factor, value_range=value_range), x)
        assert np.abs(ours - theirs).max() <= TOLERANCE
    for factor, value_range in [((0.2, 0.2), (0, 255)), ((-0.35, -0.35), (255, 10))]:
        ours = graft.layers.RandomBrightness(factor, value_range=value_range)(x)
        theirs = keras_apply(keras.layers.RandomBrightness(factor, value_range=value_range), x)
        assert np.abs(ours - theirs).max() <= TOLERANCE


@pytest.mark.parametrize("size, target", [((12, 8), (10, 10)), ((10, 20), (10, 10)), ((5, 9), (5, 3)),
                                          ((7, 7), (3, 9)), ((4, 4), (6, 5))])
def test_crop_where_keras_draws_nothing(size: tuple, target: tuple) -> None:
    """RandomCrop when the image is not larger than the window both ways:
    Keras's centred window, stretched when short."""
    x = images(n=2, height=size[0], width=size[1])
    ours = graft.layers.RandomCrop(*target)(x)
    theirs = keras_apply(keras.layers.RandomCrop(*target), x)
    assert ours.shape == theirs.shape == (2, *target, 3)
    assert np.abs(ours - theirs).max() <= TOLERANCE


def test_random_crop_is_a_window_of_each_image() -> None:
    x = images(n=16, height=12, width=15)
    ours = graft.layers.RandomCrop(5, 6, seed=3)(x)
    offsets = set()
    for image, crop in zip(x, ours):
        found = [(t, l) for t in range(8) for l in range(10) if np.array_equal(image[t:t + 5, l:l + 6], crop)]
        assert len(found) == 1
        offsets.add(found[0])
    assert len(offsets) > 4  # drawn per image


def test_calls_training_false_and_seeds() -> None:
    x = images(n=4)
    layer = graft.layers.RandomRotation(0.2, seed=11)
    first, second = layer(x), layer(x)
    assert not np.array_equal(first, second)  # each call draws anew
    again = graft.layers.RandomRotation(0.2, seed=11)
    np.testing.assert_array_equal(again(x), first)  # and a seed repeats the sequence
    np.testing.assert_array_equal(again(x), second)
    assert not np.array_equal(first[0], first[1])  # each image draws its own angle
    np.testing.assert_array_equal(layer(x, training=False), x)
    np.testing.assert_array_equal(graft.layers.RandomCrop(3, 3)(x, training=False), x)  # Keras's identity
    assert layer(x[0]).shape == x[0].shape  # one image, no batch axis


def test_arguments_refused_as_keras_refuses_them() -> None:
    with pytest.raises(ValueError, match=r"`factor` argument should be a number .* in the range \[-1, 1\]"):
        graft.layers.RandomRotation(1.5)
    with pytest.raises(ValueError, match=r"range \(-1.0, 1.0\]. Received: input_number=-1.0"):
        graft.layers.RandomZoom(-1.0)
    with pytest.raises(ValueError, match=r"range \[-1.0, 1.0\]. Received: input_number=1.5"):
        graft.layers.RandomTranslation(0.1, 1.5)
    with pytest.raises(ValueError, match=r"range \[0, 1\]"):
        graft.layers.RandomContrast(-0.5)
    with pytest.raises(NotImplementedError, match="Unknown `fill_mode` mirror"):
        graft.layers.RandomRotation(0.1, fill_mode="mirror")
    with pytest.raises(NotImplementedError, match="Unknown `interpolation` bicubic"):
        graft.layers.RandomZoom(0.1, interpolation="bicubic")
    with pytest.raises(ValueError, match="value_range"):
        graft.layers.RandomBrightness(0.1, value_range=(0, 1, 2))
    with pytest.raises(ValueError, match="at least 1"):
        graft.layers.RandomCrop(0, 4)
    with pytest.raises(ValueError, match="finite"):
        graft.layers.RandomRotation(float("nan"))
    with pytest.raises(ValueError, match="channels"):
        graft.layers.RandomFlip()(np.zeros((1, 4, 4, 5), np.float32))
