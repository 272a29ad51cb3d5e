"""save_weights / load_weights in Keras 3's .weights.h5 format, both ways
with Keras itself: a Graft file loaded by Keras's load_weights into the
model as Keras's transfer-learning guide builds it (the base nested), and
Keras's files (nested and flat) loaded by Graft; predictions compared with
the parity tolerance of the other Keras tests (assert_matches_keras)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pytest

import graft

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

SIZE, CLASSES, HIDDEN = 32, 3, 16

# Keras's own loader on numpy 2 (keras/src/backend/tensorflow/core.py), whatever file it reads.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")


@pytest.fixture
def graft_model(fixtures) -> Iterator[graft.TransferModel]:
    """The fixture ResNet50 at 32x32 with augmentation layers, GAP, Dense(16,
    relu), Dropout, Dense(3)."""
    base = graft.applications.ResNet50(weights=str(fixtures.path("resnet50_random.h5")),
                                       input_shape=(SIZE, SIZE, 3), threads=2)
    augmentation = [graft.layers.RandomFlip("horizontal"), graft.layers.RandomRotation(0.1),
                    graft.layers.RandomZoom(0.2)]
    model = graft.TransferModel(base, num_classes=CLASSES, hidden_units=[HIDDEN], dropout=0.2,
                                augmentation=augmentation, seed=1)
    yield model
    model.close()


def keras_model(nested: bool) -> keras.Model:
    """The same model in Keras: nested as the guide builds it, or flat."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.RandomFlip("horizontal")(inputs)
    x = keras.layers.RandomRotation(0.1)(x)
    x = keras.layers.RandomZoom(0.2)(x)
    x = keras.applications.resnet50.preprocess_input(x)
    if nested:
        base = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
        x = base(x, training=False)
    else:
        x = keras.applications.ResNet50(include_top=False, weights=None, input_tensor=x).output
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(HIDDEN, activation="relu")(x)
    x = keras.layers.Dropout(0.2)(x)
    return keras.Model(inputs, keras.layers.Dense(CLASSES)(x))


def images(count: int = 6) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (count, SIZE, SIZE, 3)).astype(np.float32)


def test_keras_loads_graft_weights(graft_model: graft.TransferModel, tmp_path: Path,
                                   assert_matches_keras: Callable) -> None:
    x = images()
    graft_model.compile(optimizer="adam")
    graft_model.fit(x, np.arange(6) % CLASSES, batch_size=3, epochs=1, verbose=0)
    path = tmp_path / "model.weights.h5"
    graft_model.save_weights(path)
    theirs = keras_model(nested=True)
    theirs.load_weights(path)
    assert_matches_keras(graft_model.predict(x), theirs.predict(x, verbose=0))


@pytest.mark.parametrize("nested", [True, False], ids=["nested", "flat"])
def test_graft_loads_keras_weights(graft_model: graft.TransferModel, tmp_path: Path, nested: bool,
                                   assert_matches_keras: Callable) -> None:
    theirs = keras_model(nested)
    path = tmp_path / "keras.weights.h5"
    theirs.save_weights(path)
    graft_model.load_weights(path)
    x = images()
    assert_matches_keras(graft_model.predict(x), theirs.predict(x, verbose=0))


def test_legacy_h5_and_bad_files(graft_model: graft.TransferModel, tmp_path: Path) -> None:
    x = images()
    graft_model.save(tmp_path / "model.h5")
    before = graft_model.predict(x)
    graft_model.layers[-1].set_weights([w * 0 for w in graft_model.layers[-1].get_weights()])
    graft_model.load_weights(tmp_path / "model.h5")
    np.testing.assert_array_equal(graft_model.predict(x), before)

    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        graft_model.save_weights(tmp_path / "model.keras")
    with pytest.raises(FileNotFoundError):
        graft_model.load_weights(tmp_path / "missing.weights.h5")
    # Keras's file of a model with another head: refused, and no weight changed.
    base = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    inputs = keras.Input((SIZE, SIZE, 3))
    other = keras.Model(inputs, keras.layers.Dense(5)(keras.layers.GlobalAveragePooling2D()(base(inputs))))
    other.save_weights(tmp_path / "other.weights.h5")
    with pytest.raises(graft.GraftError, match="dense"):
        graft_model.load_weights(tmp_path / "other.weights.h5")
    np.testing.assert_array_equal(graft_model.predict(x), before)
    (tmp_path / "junk.weights.h5").write_bytes(b"not hdf5")
    with pytest.raises(graft.GraftError):
        graft_model.load_weights(tmp_path / "junk.weights.h5")
    np.testing.assert_array_equal(graft_model.predict(x), before)


def test_checkpoint_saves_weights_only(graft_model: graft.TransferModel, tmp_path: Path) -> None:
    x = images()
    graft_model.compile(optimizer="adam")
    checkpoint = graft.callbacks.ModelCheckpoint(tmp_path / "ckpt-{epoch}.weights.h5", save_weights_only=True)
    graft_model.fit(x, np.arange(6) % CLASSES, batch_size=3, epochs=2, verbose=0, callbacks=[checkpoint])
    trained = graft_model.predict(x)
    graft_model.layers[-1].set_weights([w * 0 for w in graft_model.layers[-1].get_weights()])
    graft_model.load_weights(tmp_path / "ckpt-2.weights.h5")
    np.testing.assert_array_equal(graft_model.predict(x), trained)
    with pytest.raises(ValueError, match="must end in `.weights.h5`"):
        graft.callbacks.ModelCheckpoint(tmp_path / "ckpt.h5", save_weights_only=True)
    with pytest.raises(ValueError, match="save_weights_only=True"):
        graft.callbacks.ModelCheckpoint(tmp_path / "ckpt.weights.h5")
