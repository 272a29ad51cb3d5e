"""The binary head of Keras's transfer-learning guide: Dense(1), one logit,
BinaryCrossentropy(from_logits=True) and BinaryAccuracy, checked against
Keras's own loss, metric and optimizer steps live."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import graft

# Keras is the reference, installed into .venv by `make test`: no skipping.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras.src.trainers.data_adapters.data_adapter_utils import class_weight_to_sample_weights  # noqa: E402


def two_colours(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Red and blue noisy images (uint8 32x32 RGB), labels 0 and 1 alternating."""
    rng = np.random.default_rng(seed)
    palette = np.array([[220, 40, 40], [50, 60, 210]], dtype=np.float32)
    labels = np.arange(count) % 2
    images = palette[labels][:, None, None, :] + rng.uniform(-30, 30, (count, 32, 32, 3))
    return np.clip(images, 0, 255).astype(np.uint8), labels


@pytest.fixture
def binary_model() -> graft.TransferModel:
    base = graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3), threads=2)
    model = graft.TransferModel(base, num_classes=1, seed=5)
    base.trainable = False
    yield model
    model.close()


@pytest.mark.parametrize("threshold", [0.5, 0.0])
def test_steps_loss_and_accuracy_equal_keras(binary_model: graft.TransferModel, threshold: float) -> None:
    """Three SGD steps on one batch with label smoothing and class weights:
    the head's weights, each step's loss and binary accuracy equal Keras's
    (GradientTape over a Dense(1) with the same weights, on the same pooled
    features: only the head's arithmetic is compared, the base's is
    ParityTests' job)."""
    x, y = two_colours(8, 3)
    class_weight = {0: 2.0, 1: 0.5}
    binary_model.compile(graft.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                         loss=graft.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
                         metrics=[graft.metrics.BinaryAccuracy(threshold=threshold)])
    features = binary_model.base.features_from_images(x).mean(axis=(1, 2))
    # A bias that puts the threshold among the first logits, so that the
    # accuracy counts predictions of both classes.
    initial = binary_model.get_weights()
    kernel = initial[-2]
    bias = np.array([threshold - np.median(features @ kernel)], dtype=np.float32)
    binary_model.set_weights(initial[:-1] + [bias])
    first = (features @ kernel + bias)[:, 0] > threshold
    assert first.any() and not first.all()
    history = binary_model.fit(x, y.astype(np.float32)[:, None], batch_size=8, epochs=3, shuffle=False,
                               class_weight=class_weight, verbose=0)

    dense = keras.layers.Dense(1)
    dense.build((None, kernel.shape[0]))
    dense.set_weights([kernel, bias])
    optimizer = keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)
    targets = y.astype(np.float32)[:, None]
    weights = class_weight_to_sample_weights(targets, class_weight)
    losses, accuracies = [], []
    for _ in range(3):
        with tf.GradientTape() as tape:
            logits = dense(features)
            loss = loss_fn(targets, logits, sample_weight=weights)
        accuracy = keras.metrics.BinaryAccuracy(threshold=threshold)
        accuracy.update_state(targets, logits)
        optimizer.apply_gradients(zip(tape.gradient(loss, dense.trainable_variables), dense.trainable_variables))
        losses.append(float(loss))
        accuracies.append(float(accuracy.result()))
    # Both sides sum eight float32 terms from logits of the same features.
    assert history.history["loss"] == pytest.approx(losses, rel=1e-5)
    assert history.history["accuracy"] == pytest.approx(accuracies, abs=1e-7)
    for ours, theirs, before in zip(binary_model.get_weights()[-2:], dense.get_weights(), (kernel, bias)):
        update = theirs - before
        assert np.abs(update).max() > 0
        assert np.abs((ours - before) - update).max() <= 1e-5 * np.abs(update).max() + 2 * np.spacing(
            np.abs(theirs)).max()


def test_evaluate_and_confusion_matrix_follow_the_threshold(binary_model: graft.TransferModel) -> None:
    """evaluate's loss is Keras's on predict's logits; the 2x2 confusion
    matrix counts class 1 where the logit is above the threshold."""
    x, y = two_colours(10, 4)
    for threshold in (0.5, 0.0):
        binary_model.compile("sgd", loss=graft.losses.BinaryCrossentropy(from_logits=True),
                             metrics=[graft.metrics.BinaryAccuracy(threshold=threshold)])
        logits = binary_model.predict(x)
        assert logits.shape == (10, 1)
        loss, accuracy = binary_model.evaluate(x, y, verbose=0)
        assert loss == pytest.approx(float(keras.losses.BinaryCrossentropy(from_logits=True)(y[:, None], logits)),
                                     rel=1e-5)
        predicted = (logits[:, 0] > threshold).astype(int)
        assert accuracy == pytest.approx(float(np.mean(predicted == y)))
        matrix = graft.metrics.confusion_matrix(binary_model, x, y)
        np.testing.assert_array_equal(matrix, np.asarray(tf.math.confusion_matrix(y, predicted, num_classes=2)))


def test_trains_on_a_binary_folder_and_saves(binary_model: graft.TransferModel, tmp_path: Path) -> None:
    """label_mode="binary" data trains the binary head (the guide's
    workflow); the loss falls, the class names are the folders', and
    save/load keep the head, the names and the threshold."""
    from PIL import Image

    x, y = two_colours(24, 5)
    for name in ("cats", "dogs"):
        (tmp_path / "data" / name).mkdir(parents=True)
    for i, (image, label) in enumerate(zip(x, y)):
        Image.fromarray(image).save(tmp_path / "data" / ("cats", "dogs")[label] / f"{i}.png")
    train = graft.image_dataset_from_directory(tmp_path / "data", label_mode="binary", image_size=(32, 32),
                                               batch_size=8, seed=1)
    binary_model.compile(graft.optimizers.Adam(learning_rate=0.01),
                         loss=graft.losses.BinaryCrossentropy(from_logits=True),
                         metrics=[graft.metrics.BinaryAccuracy(threshold=0.0)])
    history = binary_model.fit(train, epochs=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert binary_model.class_names == ["cats", "dogs"]
    binary_model.save(tmp_path / "binary.h5")
    loaded = graft.load_model(tmp_path / "binary.h5")
    assert loaded.num_classes == 1 and loaded.class_names == ["cats", "dogs"]
    np.testing.assert_array_equal(loaded.predict(x), binary_model.predict(x))
    assert loaded.evaluate(train, verbose=0) == pytest.approx(binary_model.evaluate(train, verbose=0))
    loaded.close()


def test_mismatched_losses_metrics_and_labels_are_refused(binary_model: graft.TransferModel, small_model) -> None:
    with pytest.raises(ValueError, match="BinaryCrossentropy"):
        binary_model.compile("adam", loss=graft.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(ValueError, match="one logit"):
        small_model.compile("adam", loss=graft.losses.BinaryCrossentropy(from_logits=True))
    with pytest.raises(ValueError, match="from_logits=True"):
        binary_model.compile("adam", loss=graft.losses.BinaryCrossentropy())
    with pytest.raises(ValueError, match="from_logits=True"):
        binary_model.compile("adam", loss="binary_crossentropy")
    with pytest.raises(ValueError, match="top-k"):
        binary_model.compile("adam", metrics=["sparse_top_k_categorical_accuracy"])
    with pytest.raises(ValueError, match="does not fit the head"):
        binary_model.compile("adam", metrics=["sparse_categorical_accuracy"])
    with pytest.raises(ValueError, match="does not fit the head"):
        small_model.compile("adam", metrics=["binary_accuracy"])
    with pytest.raises(ValueError, match="BinaryAccuracy needs"):
        small_model.compile("adam", metrics=[graft.metrics.BinaryAccuracy()])
    binary_model.compile("adam", metrics=["binary_accuracy"])  # the default loss: BinaryCrossentropy
    x, y = two_colours(4, 6)
    with pytest.raises(ValueError, match="labels 0 and 1"):
        binary_model.fit(x, y * 0.5, verbose=0)
    with pytest.raises(ValueError, match="labels 0 and 1"):
        binary_model.fit(x, np.eye(2)[y], verbose=0)
    three = graft.ImageDataset.from_arrays(x, np.arange(4) % 3, batch_size=4)
    with pytest.raises(graft.GraftError, match="binary head takes 2"):
        binary_model.fit(three, verbose=0)
    with pytest.raises(ValueError, match="2 classes"):
        binary_model.class_names = ["only"]
