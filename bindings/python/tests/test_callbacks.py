"""graft.callbacks and fit's Keras arguments (callbacks, validation_split,
initial_epoch). The library's callbacks' decisions are checked against
Keras's in the Swift tests (CallbackTests); here Keras's own callbacks are
fed the figures of a Graft fit and must decide as Graft's did."""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

import graft

# Keras is the reference, installed into .venv by `make test`: no skipping.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

Colours = Callable[..., tuple[np.ndarray, np.ndarray]]


def keras_stops(histories: list[dict], **arguments: object) -> tuple[list[int], keras.callbacks.EarlyStopping]:
    """Feeds each fit's epoch logs to one Keras EarlyStopping, fit after fit
    (on_train_begin between, as Keras's fit calls it): the epochs each fit
    would have run, and the callback."""
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    callback = keras.callbacks.EarlyStopping(**arguments)
    callback.set_model(model)
    runs = []
    for history in histories:
        model.stop_training = False
        callback.on_train_begin()
        epochs = len(next(iter(history.values())))
        for epoch in range(epochs):
            callback.on_epoch_end(epoch, {name: values[epoch] for name, values in history.items()})
            if model.stop_training:
                break
        runs.append(epoch + 1)
    return runs, callback


def test_one_early_stopping_across_both_phases(small_model: graft.TransferModel, colours: Colours) -> None:
    """The seed's two phases with one EarlyStopping instance, as Keras's
    transfer-learning users write it: each fit starts it afresh."""
    x, y = colours(24, 1)
    vx, vy = colours(12, 2)
    early = graft.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.01)
    first = small_model.fit(x, y, batch_size=8, epochs=8, validation_data=(vx, vy), callbacks=[early], verbose=0)
    small_model.base.trainable = True
    for layer in small_model.base.layers[:-10]:
        layer.trainable = False
    small_model.compile(optimizer=graft.optimizers.Adam(learning_rate=1e-5))
    second = small_model.fit(x, y, batch_size=8, epochs=8, validation_data=(vx, vy), callbacks=[early], verbose=0)
    ran = [len(first.epoch), len(second.epoch)]
    runs, reference = keras_stops([first.history, second.history], monitor="val_loss", patience=1, min_delta=0.01)
    assert ran == runs
    # The instance holds the last fit's state, as Keras's does.
    for attribute in ("stopped_epoch", "best_epoch", "wait", "best"):
        assert getattr(early, attribute) == getattr(reference, attribute), attribute
    assert ran[1] >= 2, "the second fit started afresh"
    assert min(ran) < 8, f"EarlyStopping stopped neither fit: {ran}"


class Recorder(graft.callbacks.Callback):
    """Records what Keras's callback methods receive; changes the rate at
    epoch 1, stops after epoch 2, and saves the model from inside."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder, self.calls = folder, []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin",))

    def on_epoch_begin(self, epoch, logs=None):
        self.calls.append(("epoch_begin", epoch))
        if epoch == 1:
            self.model.optimizer.learning_rate = 1e-4

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", batch, sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", epoch, sorted(logs)))
        self.model.save(self.folder / f"inside-{epoch}.h5")
        if epoch == 2:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.calls.append(("train_end",))


def test_user_callbacks(small_model: graft.TransferModel, colours: Colours, tmp_path: Path) -> None:
    x, y = colours(16, 3)
    recorder = Recorder(tmp_path)
    history = small_model.fit(x, y, batch_size=8, epochs=5, validation_split=0.25, callbacks=[recorder], verbose=0)
    assert history.epoch == [0, 1, 2]
    assert recorder.calls[0] == ("train_begin",) and recorder.calls[-1] == ("train_end",)
    assert recorder.calls[1:5] == [("epoch_begin", 0), ("batch_end", 0, ["accuracy", "loss"]),
                                   ("batch_end", 1, ["accuracy", "loss"]),
                                   ("epoch_end", 0, ["accuracy", "loss", "val_accuracy", "val_loss"])]
    assert small_model.optimizer.learning_rate == pytest.approx(1e-4)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inside-0.h5", "inside-1.h5", "inside-2.h5"]

    class Failing(graft.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise ZeroDivisionError("from a callback")

    with pytest.raises(ZeroDivisionError, match="from a callback"):
        small_model.fit(x, y, batch_size=8, epochs=2, callbacks=[Failing()], verbose=0)
    assert small_model.fit(x, y, batch_size=8, epochs=1, verbose=0).epoch == [0], "the model is usable after"


def test_checkpoint_csv_and_scheduler(small_model: graft.TransferModel, colours: Colours, tmp_path: Path) -> None:
    x, y = colours(16, 4)
    vx, vy = colours(8, 5)
    callbacks = [graft.callbacks.ModelCheckpoint(tmp_path / "ckpt" / "m-{epoch:02d}-{val_accuracy:.3f}.h5",
                                                 monitor="val_accuracy"),
                 graft.callbacks.CSVLogger(tmp_path / "log.csv"),
                 graft.callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)]
    history = small_model.fit(x, y, batch_size=8, epochs=3, validation_data=(vx, vy), callbacks=callbacks,
                              verbose=0)
    names = sorted(p.name for p in (tmp_path / "ckpt").iterdir())
    assert names == [f"m-{e + 1:02d}-{a:.3f}.h5" for e, a in enumerate(history.history["val_accuracy"])]
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.005, 0.0025])
    # Keras's CSVLogger fed the same figures writes the same file.
    logger = keras.callbacks.CSVLogger(str(tmp_path / "keras.csv"))
    logger.on_train_begin()
    for epoch in history.epoch:
        logger.on_epoch_end(epoch, {k: v[epoch] for k, v in history.history.items()})
    logger.on_train_end()
    ours = list(csv.reader(open(tmp_path / "log.csv", newline="")))
    theirs = list(csv.reader(open(tmp_path / "keras.csv", newline="")))
    assert ours == theirs and "learning_rate" in ours[0]
    loaded = graft.load_model(tmp_path / "ckpt" / names[-1])
    np.testing.assert_array_equal(loaded.predict(vx), small_model.predict(vx))


class BatchesPerEpoch:
    """Records the batch indices each epoch trains on; a Graft or a Keras
    callback with the class below."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[list[int]] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.seen.append([])

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.seen[-1].append(batch)


class GraftBatches(BatchesPerEpoch, graft.callbacks.Callback):
    pass


class KerasBatches(BatchesPerEpoch, keras.callbacks.Callback):
    pass


@pytest.mark.filterwarnings("ignore:Your input ran out of data")  # Keras's, where a pass ends an epoch
def test_steps_per_epoch_as_keras(small_model: graft.TransferModel, colours: Colours) -> None:
    """steps_per_epoch takes the batches Keras 3 takes: the passes end to
    end, an epoch ending early where a pass does; a resumed fit takes the
    same ones as an uninterrupted fit (bit-identical weights)."""
    x, y = colours(10, 7)
    keras_model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(3)])
    keras_model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    expected = []
    for steps, epochs in ((2, 5), (7, 2)):
        theirs, ours = KerasBatches(), GraftBatches()
        keras_model.fit(np.zeros((10, 1)), y, batch_size=2, epochs=epochs, steps_per_epoch=steps, verbose=0,
                        shuffle=False, callbacks=[theirs])
        small_model.fit(x, y, batch_size=2, epochs=epochs, steps_per_epoch=steps, verbose=0, shuffle=False,
                        callbacks=[ours])
        assert ours.seen == theirs.seen, (steps, epochs)
        expected.append(theirs.seen)
    assert expected[0] == [[0, 1], [0, 1], [0], [0, 1], [0, 1]], "the test's premise: epochs end with the pass"

    # Epoch 1 of steps_per_epoch=2 is batches 2 and 3 of the unshuffled pass: images 4 to 7.
    head = small_model.layers[-1]
    start = head.get_weights()
    small_model.compile(optimizer=graft.optimizers.SGD(0.1))
    small_model.fit(x, y, batch_size=2, epochs=2, initial_epoch=1, steps_per_epoch=2, verbose=0, shuffle=False)
    sliced = head.get_weights()
    head.set_weights(start)
    small_model.compile(optimizer=graft.optimizers.SGD(0.1))
    small_model.fit(x[4:8], y[4:8], batch_size=2, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(sliced, head.get_weights()):
        np.testing.assert_array_equal(a, b)

    # Resumed at epoch 3 (shuffled: each pass its own order), as one fit of 5 epochs.
    def run(*fits: tuple[int, int]) -> list[np.ndarray]:
        head.set_weights(start)
        small_model.compile(optimizer=graft.optimizers.Adam(0.01))
        for initial, epochs in fits:
            small_model.fit(x, y, batch_size=2, epochs=epochs, initial_epoch=initial, steps_per_epoch=2,
                            verbose=0, seed=4)
        return head.get_weights()

    for a, b in zip(run((0, 5)), run((0, 3), (3, 5))):
        np.testing.assert_array_equal(a, b)


def test_fit_arguments(small_model: graft.TransferModel, colours: Colours) -> None:
    x, y = colours(10, 6)
    with pytest.raises(ValueError, match="not sufficient"):
        small_model.fit(x[:1], y[:1], validation_split=0.5, verbose=0)
    with pytest.raises(ValueError, match="at the same time"):
        small_model.fit(x, y, sample_weight=np.ones(10), class_weight={0: 2.0}, verbose=0)
    with pytest.raises(ValueError, match="sample_weight"):
        small_model.fit(x, y, sample_weight=np.ones(3), verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        small_model.fit(x, y, steps_per_epoch=0, verbose=0)
    with pytest.raises(ValueError, match="class 3"):
        small_model.fit(x, y, class_weight={3: 2.0}, verbose=0)
    with pytest.raises(ValueError, match="one callback of each"):
        small_model.fit(x, y, callbacks=[graft.callbacks.CSVLogger("a.csv"), graft.callbacks.CSVLogger("b.csv")])
    with pytest.raises(ValueError, match="factor"):
        graft.callbacks.ReduceLROnPlateau(factor=1.0)
    with pytest.raises(ValueError, match="must end in `.keras`"):
        graft.callbacks.ModelCheckpoint("model.txt")
    with pytest.raises(ValueError, match="save_weights_only"):
        graft.callbacks.ModelCheckpoint("model.weights.h5")
    resumed = small_model.fit(x, y, batch_size=5, epochs=4, initial_epoch=2, verbose=0,
                              callbacks=[graft.callbacks.TerminateOnNaN()])
    assert resumed.epoch == [2, 3]
    reduce = graft.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=100)
    history = small_model.fit(x, y, batch_size=5, epochs=2, callbacks=[reduce], verbose=0)
    # Keras logs the rate an epoch trained with, then reduces it: epoch 0
    # sets the best, epoch 1 does not beat it by 100.
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.01])
    assert small_model.optimizer.learning_rate == pytest.approx(0.005)


@pytest.mark.parametrize("name", ["EarlyStopping", "ReduceLROnPlateau"])
def test_callback_defaults_are_keras(name: str) -> None:
    ours, theirs = getattr(graft.callbacks, name)(), getattr(keras.callbacks, name)()
    for argument in ("monitor", "patience", "factor", "min_delta", "cooldown", "min_lr", "restore_best_weights",
                     "start_from_epoch", "baseline"):
        if hasattr(theirs, argument):
            assert getattr(ours, argument) == getattr(theirs, argument), argument
