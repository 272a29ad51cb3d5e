"""Keras reads what graft's model.save writes, live: the same base and head
built in Keras take the file with model.load_weights and predict what Graft
predicts."""

from __future__ import annotations

import os

import numpy as np
import pytest

import graft

# Keras is the reference, installed into .venv by `make test`: no skipping.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402


def keras_model(hidden: int, dropout: float, classes: int) -> keras.Model:
    """ResNet50 at 32x32 (no top) + GAP (+ Dense, ReLU, Dropout) +
    Dense(classes), layer for layer the model graft.TransferModel builds."""
    inputs = keras.Input((32, 32, 3))
    base = keras.applications.ResNet50(include_top=False, weights=None, input_tensor=inputs)
    x = keras.layers.GlobalAveragePooling2D()(base.output)
    if hidden:
        x = keras.layers.Dense(hidden)(x)
        x = keras.layers.Activation("relu")(x)
        x = keras.layers.Dropout(dropout)(x)
    return keras.Model(inputs, keras.layers.Dense(classes)(x))


# (hidden units, classes): the binary head (one logit) as the guide builds it.
@pytest.mark.parametrize("hidden, classes", [(0, 3), (16, 3), (0, 1)])
def test_keras_loads_a_saved_model(fixtures, colours, tmp_path, hidden, classes) -> None:
    # The random-weight fixture base (BatchNormalization statistics included),
    # head trained a little so that no weight is at its initial value.
    base = graft.applications.ResNet50(weights=str(fixtures.path("resnet50_random.h5")),
                                       input_shape=(32, 32, 3), threads=2)
    model = graft.TransferModel(base, num_classes=classes, hidden_units=[hidden] if hidden else [],
                                dropout=0.25 if hidden else 0.0, seed=7)
    base.trainable = False
    model.compile(optimizer=graft.optimizers.Adam(learning_rate=0.01))
    x, y = colours(16, 2)
    if classes == 1:
        y = y % 2
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    path = tmp_path / "model.h5"
    model.save(path)

    reference = keras_model(hidden, 0.25, classes)
    reference.load_weights(str(path))
    theirs = reference.predict(keras.applications.resnet.preprocess_input(x.astype(np.float32)), verbose=0)
    ours = model.predict(x)
    # Both compute in float32 with different summation orders through the 53
    # layers (one fresh-clone run measured 1.1e-5 of the largest logit: the
    # difference moves as oneDNN picks its kernels); the engine's parity bar (1e-4
    # of the largest value, as in ParityTests.swift) applies, well below any
    # change of a weight, and every weight is compared exactly below.
    assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(theirs).max()
    # Every weight Keras read is Graft's, in Keras's order.
    ours_weights = [w for layer in model.layers for w in layer.get_weights()]
    theirs_weights = [w for w in reference.get_weights()]
    assert len(ours_weights) == len(theirs_weights)
    for a, b in zip(ours_weights, theirs_weights):
        np.testing.assert_array_equal(a, b)
    model.close()
