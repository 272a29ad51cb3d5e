"""The Keras model surface a Keras user reaches for: model(x), predict on a
dataset, get_weights/set_weights, trainable_weights, evaluate(return_dict),
graft.applications.resnet50.preprocess_input, save choosing the format by extension."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import graft

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

Colours = Callable[..., tuple[np.ndarray, np.ndarray]]


def test_preprocess_input_is_keras(colours: Colours) -> None:
    x, _ = colours(3, 1)
    pixels = x.astype(np.float32)
    expected = keras.applications.resnet50.preprocess_input(pixels.copy())
    np.testing.assert_array_equal(graft.applications.resnet50.preprocess_input(x), expected)
    np.testing.assert_array_equal(graft.applications.resnet.preprocess_input(pixels), expected)
    with pytest.raises(ValueError, match="3 channels"):
        graft.applications.resnet50.preprocess_input(np.zeros((2, 4, 4, 1)))


def test_model_surface(small_model: graft.TransferModel, colours: Colours, tmp_path: Path) -> None:
    x, y = colours(6, 2)
    dataset = graft.ImageDataset.from_arrays(x, y, num_classes=3, batch_size=4, shuffle=False)
    np.testing.assert_array_equal(small_model(x), small_model.predict(x))
    np.testing.assert_array_equal(small_model.predict(dataset), small_model.predict(x))
    with pytest.raises(ValueError, match="training=True"):
        small_model(x, training=True)

    weights = small_model.get_weights()
    assert len(weights) == sum(len(layer.get_weights()) for layer in small_model.layers)
    assert [w.shape for w in small_model.trainable_weights] == [(2048, 3), (3,)], "base frozen: the head"
    small_model.set_weights([w * 0 for w in weights])
    assert not small_model.predict(x).any()
    small_model.set_weights(weights)
    np.testing.assert_array_equal(small_model.predict(x), small_model(x))
    with pytest.raises(ValueError, match="weights list has 1 elements"):
        small_model.set_weights(weights[:1])
    with pytest.raises(ValueError, match="shape"):
        small_model.set_weights([np.zeros((1,))] + weights[1:])

    small_model.base.trainable = True
    for layer in small_model.base.layers[:-10]:
        layer.trainable = False
    # conv5_block3: 3 convolutions (kernel, bias), 3 BatchNormalizations (gamma, beta); the head.
    assert len(small_model.trainable_weights) == 3 * 2 + 3 * 2 + 2

    result = small_model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(result) == ["accuracy", "loss"]
    assert [result["loss"], result["accuracy"]] == small_model.evaluate(x, y, verbose=0)
    small_model.save(tmp_path / "model.keras")  # Keras 3's archive (test_keras_interop.py)
    assert zipfile.is_zipfile(tmp_path / "model.keras")


def test_confusion_matrix(small_model: graft.TransferModel, colours: Colours) -> None:
    x, y = colours(9, 3)
    matrix = graft.metrics.confusion_matrix(small_model, x, y)
    expected = np.zeros((3, 3), dtype=np.int64)
    np.add.at(expected, (y, small_model.predict(x).argmax(axis=1)), 1)
    np.testing.assert_array_equal(matrix, expected)
    accuracy = small_model.evaluate(x, y, verbose=0)[1]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(accuracy)
