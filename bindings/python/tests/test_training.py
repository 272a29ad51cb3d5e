"""The training API: Keras's transfer-learning idiom, run by libgraft."""

from __future__ import annotations

import numpy as np
import pytest

import graft


def colours(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of flat-coloured 32x32 images with noise."""
    rng = np.random.default_rng(seed)
    palette = np.array([[220, 40, 40], [40, 200, 60], [50, 60, 210]], dtype=np.float32)
    labels = np.arange(count) % 3
    images = palette[labels][:, None, None, :] + rng.uniform(-30, 30, (count, 32, 32, 3))
    return np.clip(images, 0, 255).astype(np.uint8), labels


@pytest.fixture
def model(fixtures) -> graft.TransferModel:
    base = graft.applications.ResNet50(weights=str(fixtures.path("resnet50_random.h5")), input_shape=(32, 32, 3),
                                       threads=2)
    return graft.TransferModel(base, num_classes=3, augmentation="horizontal_and_vertical", seed=3)


def test_keras_idiom(model: graft.TransferModel) -> None:
    base = model.base
    assert len(model.layers) == 177 and model.layers[-1].name == "dense"
    base.trainable = False
    assert not base.trainable and model.layers[-1].trainable
    model.compile(optimizer=graft.optimizers.Adam(learning_rate=0.01))
    x, y = colours(24, 1)
    vx, vy = colours(12, 2)
    history = model.fit(x, y, batch_size=8, epochs=4, validation_data=(vx, vy), shuffle=False)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 4 and history.history["loss"][-1] < history.history["loss"][0]
    loss, accuracy = model.evaluate(vx, vy)
    assert accuracy >= 0.9 and loss == pytest.approx(history.history["val_loss"][-1], rel=1e-5)
    logits = model.predict(vx)
    assert logits.shape == (12, 3) and (logits.argmax(axis=1) == vy).mean() >= 0.9

    # Fine-tune the last residual block, as Keras users write it.
    base.trainable = True
    for layer in base.layers[:-10]:
        layer.trainable = False
    assert [layer.trainable for layer in base.layers[-11:]] == [False] + [True] * 10
    before = model.predict(vx)
    model.compile(optimizer=graft.optimizers.SGD(learning_rate=1e-4, momentum=0.9))
    model.fit(x, y, batch_size=8, epochs=1)
    assert not np.array_equal(before, model.predict(vx))


def test_training_errors(model: graft.TransferModel) -> None:
    x, y = colours(6, 3)
    with pytest.raises(graft.GraftError, match="compile"):
        model.fit(x, y, epochs=1)
    with pytest.raises(graft.GraftError, match="learning_rate"):
        model.compile(optimizer=graft.optimizers.SGD(learning_rate=0.0))
    model.compile(optimizer=graft.optimizers.SGD())
    with pytest.raises(graft.GraftError, match="epochs"):
        model.fit(x, y, epochs=-1)
    assert model.fit(x, y, epochs=0, verbose=0).history == {}, "Keras's fit(epochs=0) trains nothing"
    with pytest.raises(ValueError, match="labels"):
        model.fit(x)
    with pytest.raises(ValueError, match="shape"):
        model.predict(np.zeros((2, 16, 16, 3)))
    with pytest.raises(graft.GraftError, match="head already"):
        graft.TransferModel(model.base, num_classes=3)
    small = graft.ImageDataset.from_arrays(np.zeros((2, 16, 16, 3), np.uint8), [0, 1], num_classes=3)
    with pytest.raises(graft.GraftError, match="16x16"):
        model.fit(small, epochs=1)
    assert model.predict(x).shape == (6, 3)  # still usable


def test_get_and_set_weights(model: graft.TransferModel, fixtures) -> None:
    """Keras's shapes and order; set_weights takes effect in later calls."""
    import h5py

    conv = model.base.get_layer("conv1_conv")
    kernel, bias = conv.get_weights()
    assert kernel.shape == (7, 7, 3, 64) and bias.shape == (64,)
    with h5py.File(fixtures.path("resnet50_random.h5"), "r") as f:
        np.testing.assert_array_equal(kernel, f["conv1_conv/conv1_conv/kernel"][()])
    assert [w.shape for w in model.base.get_layer("conv1_bn").get_weights()] == [(64,)] * 4
    dense = model.layers[-1]
    x, _ = colours(3, 4)
    before = model.predict(x)
    w, b = dense.get_weights()
    dense.set_weights([w, b + 1.0])
    np.testing.assert_allclose(model.predict(x), before + 1.0, rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="shape"):
        dense.set_weights([w[:10], b])
    with pytest.raises(ValueError, match="2 weights"):
        dense.set_weights([w])


def test_preprocessing_is_the_bases(model: graft.TransferModel) -> None:
    with pytest.raises(ValueError, match="preprocessing"):
        graft.TransferModel(model.base, num_classes=3, preprocessing="rescale")


def test_micro_batch_size_takes_the_whole_batch_step(colours, fixtures) -> None:
    """The last block trained on one batch of 24 at once, and in parts of 8
    (one Winograd tiling is not forced here, so the parts' 3x3 convolutions
    may round otherwise: the bar is that of a float32 reordering plus a
    ReLU at its kink, 1e-3 of the largest update)."""
    x, y = colours(24, 5)

    def weights_after(micro_batch_size):
        base = graft.applications.ResNet50(weights=str(fixtures.path("resnet50_random.h5")),
                                           input_shape=(32, 32, 3), threads=2)
        model = graft.TransferModel(base, num_classes=3, seed=3)
        for layer in base.layers[:-10]:
            layer.trainable = False
        model.micro_batch_size = micro_batch_size
        assert model.micro_batch_size == micro_batch_size
        model.compile(optimizer=graft.optimizers.SGD(learning_rate=0.1))
        before = [w.copy() for w in model.layers[-1].get_weights()]
        model.fit(x, y, batch_size=24, epochs=1, verbose=0, shuffle=False)
        after = model.layers[-1].get_weights()
        model.close()
        return before, after

    before, whole = weights_after(None)
    _, parts = weights_after(8)
    largest = max(float(np.abs(a - b).max()) for a, b in zip(whole, before))
    assert largest > 0
    for a, b in zip(parts, whole):
        assert float(np.abs(a - b).max()) <= 1e-3 * largest


def test_micro_batch_size_refuses_bad_values(small_model) -> None:
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="micro_batch_size"):
            small_model.micro_batch_size = bad
    small_model.micro_batch_size = None
    assert small_model.micro_batch_size is None
