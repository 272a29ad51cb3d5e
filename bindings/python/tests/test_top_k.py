"""Keras's top-k accuracy metrics (SparseTopKCategoricalAccuracy,
TopKCategoricalAccuracy) in compile, fit and evaluate, checked against
Keras's own metric objects on the same logits.

Both sides count hits and divide by the images (Keras in float32), so the
figures agree to float32 rounding: relative tolerance 1e-6."""

from __future__ import annotations

import io
import os
from contextlib import redirect_stdout
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import graft

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

CLASSES = 10
SPARSE = "sparse_top_k_categorical_accuracy"


@pytest.fixture
def ten_classes() -> Iterator[graft.TransferModel]:
    """A random ResNet50 at 32x32 under a 10-class head (top-3 is then
    neither always nor never right), base frozen."""
    base = graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3), threads=2)
    model = graft.TransferModel(base, num_classes=CLASSES, seed=5)
    base.trainable = False
    yield model
    model.close()


def images(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (count, 32, 32, 3), dtype=np.uint8), rng.integers(0, CLASSES, count)


def keras_top_k(metric: keras.metrics.Metric, labels: np.ndarray, logits: np.ndarray) -> float:
    metric.update_state(labels, logits)
    return float(metric.result())


def test_evaluate_and_fit_report_keras_top_k(ten_classes: graft.TransferModel) -> None:
    x, y = images(40, 0)
    xv, yv = images(24, 1)
    ten_classes.compile(optimizer=graft.optimizers.Adam(1e-3),
                        metrics=["accuracy", graft.metrics.SparseTopKCategoricalAccuracy(k=3)])
    result = ten_classes.evaluate(x, y, verbose=0, return_dict=True)
    assert list(result) == ["accuracy", "loss", SPARSE]
    expected = keras_top_k(keras.metrics.SparseTopKCategoricalAccuracy(k=3), y, ten_classes.predict(x))
    assert 0 < expected < 1, "the test needs some hits and some misses"
    assert result[SPARSE] == pytest.approx(expected, rel=1e-6)
    # The loss to float32's rounding only: OpenBLAS's AVX kernels (the head's product) do not return
    # bit-identical sums from one call to the next.
    assert ten_classes.evaluate(x, y, verbose=0) == pytest.approx([result["loss"], result["accuracy"], result[SPARSE]],
                                                                  rel=1e-6)

    seen: list[dict] = []

    class Record(graft.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            seen.append(dict(logs or {}))

    output = io.StringIO()
    with redirect_stdout(output):
        history = ten_classes.fit(x, y, batch_size=16, epochs=1, validation_data=(xv, yv), verbose=2,
                                  callbacks=[Record()])
    # The validation runs after the epoch's last step, on the weights fit returns.
    expected_val = keras_top_k(keras.metrics.SparseTopKCategoricalAccuracy(k=3), yv, ten_classes.predict(xv))
    assert history.history[f"val_{SPARSE}"][0] == pytest.approx(expected_val, rel=1e-6)
    assert 0 <= history.history[SPARSE][0] <= 1
    assert seen[0][f"val_{SPARSE}"] == history.history[f"val_{SPARSE}"][0]
    assert seen[0][SPARSE] == history.history[SPARSE][0]
    assert f" - {SPARSE}: " in output.getvalue() and f" - val_{SPARSE}: " in output.getvalue()


def test_ties_count_as_tf_in_top_k(ten_classes: graft.TransferModel) -> None:
    """A zero head makes every logit equal: tf.math.in_top_k counts every
    class tied at the k-th place as in, so top-1 accuracy is 1 while
    accuracy (the first largest logit) is the share of class 0."""
    x, y = images(20, 2)
    ten_classes.compile(optimizer="adam", metrics=[graft.metrics.SparseTopKCategoricalAccuracy(k=1)])
    head = ten_classes.layers[-1]
    head.set_weights([np.zeros_like(w) for w in head.get_weights()])
    logits = ten_classes.predict(x)
    assert (logits == 0).all()
    result = ten_classes.evaluate(x, y, verbose=0, return_dict=True)
    assert result[SPARSE] == keras_top_k(keras.metrics.SparseTopKCategoricalAccuracy(k=1), y, logits) == 1.0
    assert result["accuracy"] == pytest.approx(np.mean(y == 0))


def test_one_hot_names_and_strings(ten_classes: graft.TransferModel, tmp_path: Path) -> None:
    x, y = images(30, 3)
    one_hot = np.eye(CLASSES, dtype=np.float32)[y]
    ten_classes.compile(optimizer="adam", loss=graft.losses.CategoricalCrossentropy(from_logits=True),
                        metrics=[graft.metrics.TopKCategoricalAccuracy(k=4)])
    result = ten_classes.evaluate(x, one_hot, verbose=0, return_dict=True)
    expected = keras_top_k(keras.metrics.TopKCategoricalAccuracy(k=4), one_hot, ten_classes.predict(x))
    assert result["top_k_categorical_accuracy"] == pytest.approx(expected, rel=1e-6)

    # Keras's string form is k=5; the metric and its name are saved with the model.
    ten_classes.compile(optimizer="adam", metrics=[SPARSE, "accuracy"])
    result = ten_classes.evaluate(x, y, verbose=0, return_dict=True)
    assert ten_classes.evaluate(x, y, verbose=0) == pytest.approx([result["loss"], result[SPARSE], result["accuracy"]],
                                                                  rel=1e-6), \
        "the list in compile's order, as Keras's"
    assert result[SPARSE] == pytest.approx(
        keras_top_k(keras.metrics.SparseTopKCategoricalAccuracy(k=5), y, ten_classes.predict(x)), rel=1e-6)
    ten_classes.save(tmp_path / "m.h5")
    loaded = graft.load_model(tmp_path / "m.h5")
    try:
        assert loaded.evaluate(x, y, verbose=0, return_dict=True) == pytest.approx(
            {"loss": result["loss"], "accuracy": result["accuracy"], SPARSE: result[SPARSE]}, rel=1e-6)
    finally:
        loaded.close()


def test_refused_metrics(ten_classes: graft.TransferModel) -> None:
    with pytest.raises(ValueError, match="one top-k"):
        ten_classes.compile(metrics=[graft.metrics.SparseTopKCategoricalAccuracy(),
                                     graft.metrics.TopKCategoricalAccuracy()])
    with pytest.raises(ValueError, match="k must be at least 1"):
        graft.metrics.SparseTopKCategoricalAccuracy(k=0)
    with pytest.raises(ValueError, match="received metrics"):
        ten_classes.compile(metrics=["mae"])
    with pytest.raises(ValueError, match="val_"):
        ten_classes.compile(metrics=[graft.metrics.SparseTopKCategoricalAccuracy(name="val_top")])
