"""A model's augmentation list (TransferModel(augmentation=[...])): listed
in the summary as Keras lists the same layers (live), trained on, said of in
fit's verbose output, kept by save/load; the string form still works."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stdout

import numpy as np
import pytest

import graft
from graft import layers

# Keras is the reference, installed into .venv by `make test`: no skipping.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

SIZE = 32


def model(fixtures, augmentation, seed: int = 3) -> graft.TransferModel:
    base = graft.applications.ResNet50(weights=str(fixtures.path("resnet50_random.h5")),
                                       input_shape=(SIZE, SIZE, 3), threads=2)
    return graft.TransferModel(base, num_classes=3, augmentation=augmentation, seed=seed)


def augmentation():
    return [layers.RandomFlip("horizontal"), layers.RandomRotation(0.1), layers.RandomZoom(0.2),
            layers.RandomFlip()]


def test_summary_lists_the_layers_as_keras(fixtures) -> None:
    ours = model(fixtures, augmentation())
    head = [layer.name for layer in ours.layers[len(ours.base.layers):]]
    # Keras numbers its automatic names per session: Graft's names, given.
    inputs = keras.Input((SIZE, SIZE, 3), name=ours.layers[0].name)
    x = keras.layers.RandomFlip("horizontal", name="random_flip")(inputs)
    x = keras.layers.RandomRotation(0.1, name="random_rotation")(x)
    x = keras.layers.RandomZoom(0.2, name="random_zoom")(x)
    x = keras.layers.RandomFlip(name="random_flip_1")(x)
    base = keras.applications.ResNet50(include_top=False, weights=None, input_tensor=x)
    x = keras.layers.GlobalAveragePooling2D(name=head[0])(base.output)
    theirs = keras.Model(inputs, keras.layers.Dense(3, name=head[1])(x), name="functional")
    printed: list[str] = []
    ours.summary(print_fn=printed.append)
    theirs.summary(print_fn=printed.append)
    assert printed[0].rstrip("\n") == printed[1].rstrip("\n")
    ours.close()


def fit_output(m: graft.TransferModel, x, y) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        m.fit(x, y, batch_size=8, epochs=2, verbose=2, shuffle=False)
    return out.getvalue()


def test_fit_says_what_the_cache_does_and_is_reproducible(fixtures, colours) -> None:
    x, y = colours(16, 2)
    runs = []
    for _ in range(2):
        m = model(fixtures, augmentation())
        m.base.trainable = False
        m.compile(optimizer=graft.optimizers.SGD(learning_rate=0.05), metrics=["accuracy"])
        text = fit_output(m, x, y)
        assert text.startswith("Feature cache: off for training images (RandomRotation, RandomZoom make new images "
                               "every epoch): the frozen layers run on every batch\nEpoch 1/2\n"), text
        runs.append([w for layer in m.layers[-1:] for w in layer.get_weights()])
        m.close()
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)

    flips = model(fixtures, "horizontal_and_vertical")  # the string form
    flips.base.trainable = False
    flips.compile(optimizer="sgd")
    assert fit_output(flips, x, y).startswith(
        "Feature cache: on: the frozen layers run once per image and flip\nEpoch 1/2\n")
    flips.base.trainable = True
    # The random base diverges on larger steps.
    flips.compile(optimizer=graft.optimizers.SGD(learning_rate=1e-6))
    assert fit_output(flips, x, y).startswith("Epoch 1/2\n")  # nothing frozen, nothing cached
    flips.close()


def test_saved_and_loaded_with_its_augmentation(fixtures, tmp_path) -> None:
    ours = model(fixtures, [layers.RandomTranslation(0.1, (-0.2, 0.1), fill_mode="constant", fill_value=7.5),
                            layers.RandomContrast(0.3), layers.RandomBrightness(0.1, value_range=(0, 1))])
    ours.save(tmp_path / "model.h5")
    loaded = graft.load_model(tmp_path / "model.h5")
    printed: list[str] = []
    ours.summary(print_fn=printed.append)
    loaded.summary(print_fn=printed.append)
    assert printed[0] == printed[1] and "(RandomBrightness)" in printed[0] and "(RandomTranslation)" in printed[0]
    ours.close()
    loaded.close()


def test_bad_lists_are_refused(fixtures) -> None:
    base = graft.applications.ResNet50(weights=None, input_shape=(SIZE, SIZE, 3), threads=1)
    with pytest.raises(ValueError, match="RandomFlip mode"):
        graft.TransferModel(base, num_classes=3, augmentation="diagonal")
    with pytest.raises(TypeError, match="graft.layers"):
        graft.TransferModel(base, num_classes=3, augmentation=[keras.layers.RandomFlip()])
    with pytest.raises(graft.GraftError, match="RandomCrop"):
        graft.TransferModel(base, num_classes=3, augmentation=[layers.RandomCrop(SIZE, SIZE)])
    with pytest.raises(TypeError, match="a list of graft.layers"):
        graft.TransferModel(base, num_classes=3, augmentation=42)
    # The base took no head from the refusals; one layer alone is a list of one.
    graft.TransferModel(base, num_classes=3, augmentation=layers.RandomZoom(0.1)).close()
