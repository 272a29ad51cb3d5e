"""Shared fixtures: the golden data made by tools/make_fixtures.py with Keras.

The data directory is $GRAFT_FIXTURES/model, else <repo>/.fixtures/model. A missing file
fails the test that needs it (run `make fixtures`): a parity suite that skips
when its references are absent proves nothing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

import graft
from graft.models import BaseModel

REPO = Path(__file__).resolve().parents[3]


class Fixtures:
    """The fixture directory: paths and the raw float32 arrays of manifest.txt."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, name: str) -> Path:
        """The path of fixture `name`; fails the calling test if it is missing."""
        path = self.directory / name
        if not path.is_file():
            pytest.fail(f"fixture {path} is missing: run `make fixtures` "
                        "(or set GRAFT_FIXTURES to the directory that holds them)")
        return path

    def array(self, name: str) -> np.ndarray:
        """A raw little-endian float32 fixture, shaped as manifest.txt says."""
        shapes = {}
        for line in self.path("manifest.txt").read_text().splitlines():
            file, *dims = line.split()
            shapes[file] = tuple(int(d) for d in dims)
        if name not in shapes:
            pytest.fail(f"{name} is not in {self.directory / 'manifest.txt'}: run `make fixtures`")
        data = np.fromfile(self.path(name), dtype="<f4")
        if data.size != np.prod(shapes[name]):
            pytest.fail(f"{self.directory / name} holds {data.size} floats, manifest.txt says "
                        f"{shapes[name]}: run `make fixtures`")
        return data.reshape(shapes[name])


@pytest.fixture(scope="session")
def fixtures() -> Fixtures:
    return Fixtures(Path(os.environ.get("GRAFT_FIXTURES") or REPO / ".fixtures") / "model")


@pytest.fixture(scope="session")
def keras_layer_names() -> Callable[[str], list[str]]:
    """`names(architecture)`: Keras's model.layers names, committed in Tests/Fixtures."""

    def names(architecture: str) -> list[str]:
        return (REPO / "Tests" / "Fixtures" / f"{architecture}_layers.txt").read_text().split()

    return names


@pytest.fixture(scope="session")
def resnet50_random(fixtures: Fixtures) -> Iterator[Callable[[int, int], BaseModel]]:
    """`model(height, width)`: ResNet50 with the fixture weights, one per size.

    A factory rather than a model, so that a missing weight file fails the
    test calling it (not its set-up), and so that the tests share one model
    per size: loading the 95 MB file is the slowest step of the suite.
    """
    models: dict[tuple[int, int], BaseModel] = {}

    def model(height: int, width: int) -> BaseModel:
        if (height, width) not in models:
            models[height, width] = graft.applications.ResNet50(
                weights=fixtures.path("resnet50_random.h5"), input_shape=(height, width, 3))
        return models[height, width]

    yield model
    for m in models.values():
        m.close()


# Graft sums float32 products in another order than Keras (GEMM tiling,
# BatchNorm folded into the convolutions), which moves the features by about
# 1e-6 of their scale; a real bug (a swapped weight, wrong padding or stride)
# moves them by a large fraction of it.
TOLERANCE = 1e-4


@pytest.fixture(scope="session")
def assert_matches_keras() -> Callable[[np.ndarray, np.ndarray], None]:
    """`check(actual, expected)`: max |actual - expected| <= TOLERANCE * max |expected|."""

    def check(actual: np.ndarray, expected: np.ndarray) -> None:
        assert actual.shape == expected.shape and actual.dtype == np.float32
        scale = float(np.abs(expected).max())
        error = float(np.abs(actual - expected).max())
        assert error <= TOLERANCE * scale, (
            f"max abs error {error:.3g} exceeds {TOLERANCE} x max |reference| {scale:.3g}")

    return check


def colour_images(count: int, seed: int, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of flat-coloured images with noise (uint8 RGB, labels 0..2)."""
    rng = np.random.default_rng(seed)
    palette = np.array([[220, 40, 40], [40, 200, 60], [50, 60, 210]], dtype=np.float32)
    labels = np.arange(count) % 3
    images = palette[labels][:, None, None, :] + rng.uniform(-30, 30, (count, size, size, 3))
    return np.clip(images, 0, 255).astype(np.uint8), labels


@pytest.fixture
def small_model() -> Iterator[graft.TransferModel]:
    """A randomly initialised ResNet50 at 32x32 with a 3-class head, base
    frozen, compiled with Adam: quick to build and to train."""
    base = graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3), threads=2)
    model = graft.TransferModel(base, num_classes=3, seed=3)
    base.trainable = False
    model.compile(optimizer=graft.optimizers.Adam(learning_rate=0.01))
    yield model
    model.close()


@pytest.fixture(scope="session")
def colours() -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """`colours(count, seed)`: see colour_images."""
    return colour_images
