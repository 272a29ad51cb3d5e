"""graft.optimizers, graft.optimizers.schedules and compile's arguments, with
Keras's names and defaults (the arithmetic of each is checked against Keras
in the Swift parity tests, TrainingParityTests)."""

from __future__ import annotations

import json
import os
from typing import Callable

import numpy as np
import pytest

import graft
from graft.optimizers import schedules

# Keras is the reference, installed into .venv by `make test`: no skipping.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

OPTIMIZERS = ["SGD", "Adam", "AdamW", "RMSprop"]
ARGUMENTS = ["learning_rate", "momentum", "nesterov", "beta_1", "beta_2", "epsilon", "rho", "centered",
             "weight_decay", "clipnorm", "clipvalue", "global_clipnorm"]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_defaults_are_keras(name: str) -> None:
    ours, theirs = getattr(graft.optimizers, name)().get_config(), getattr(keras.optimizers, name)().get_config()
    for argument in ARGUMENTS:
        if argument in theirs:
            expected = theirs[argument]
            assert ours[argument] == (expected if expected is None else pytest.approx(expected, rel=1e-7)), argument
    assert graft.optimizers.get(name.lower()).get_config() == getattr(graft.optimizers, name)().get_config()


SCHEDULES = [
    ("ExponentialDecay", {"initial_learning_rate": 0.1, "decay_steps": 7, "decay_rate": 0.9, "staircase": True}),
    ("PiecewiseConstantDecay", {"boundaries": [3, 8], "values": [1.0, 0.5, 0.1]}),
    ("InverseTimeDecay", {"initial_learning_rate": 0.1, "decay_steps": 5, "decay_rate": 0.5}),
    ("PolynomialDecay", {"initial_learning_rate": 0.1, "decay_steps": 9, "power": 2.0, "cycle": True}),
    ("CosineDecay", {"initial_learning_rate": 0.01, "decay_steps": 10, "alpha": 0.1, "warmup_target": 0.1,
                     "warmup_steps": 4}),
]


@pytest.mark.parametrize("name,arguments", SCHEDULES)
def test_schedules_equal_keras(name: str, arguments: dict) -> None:
    ours, theirs = getattr(schedules, name)(**arguments), getattr(keras.optimizers.schedules, name)(**arguments)
    # The same float32 operations (the 1,000-step comparison of each is in
    # the Swift parity tests); the cosine's rate may differ by an ulp of cos.
    rates = [(ours(step), float(theirs(step))) for step in range(20)]
    for step, (a, b) in enumerate(rates):
        assert a == pytest.approx(b, rel=1e-6, abs=1e-9), step
    assert ours.get_config().items() >= {k: v for k, v in arguments.items()}.items()


def test_schedule_arguments_are_checked() -> None:
    with pytest.raises(graft.GraftError, match="decay_steps"):
        schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)
    with pytest.raises(ValueError, match="1 less than"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1])


def test_only_one_clipping() -> None:
    with pytest.raises(ValueError, match="Only one of"):
        graft.optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="weight_decay"):
        graft.optimizers.AdamW(weight_decay=None)


def test_compile_refuses_what_it_cannot_compute(small_model: graft.TransferModel) -> None:
    with pytest.raises(ValueError, match="from_logits=True"):
        small_model.compile("adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="mse"):
        small_model.compile("adam", loss="mse")
    with pytest.raises(ValueError, match="from_logits=True"):
        small_model.compile("adam", loss=graft.losses.SparseCategoricalCrossentropy())
    with pytest.raises(ValueError, match="mae"):
        small_model.compile("adam", metrics=["mae"])
    with pytest.raises(ValueError, match="optimizer identifier"):
        small_model.compile("adagrad")
    small_model.compile("adamw", loss=graft.losses.SparseCategoricalCrossentropy(from_logits=True),
                        metrics=["accuracy"])
    assert isinstance(small_model.optimizer, graft.optimizers.AdamW)


def test_learning_rate_between_fits(small_model: graft.TransferModel,
                                    colours: Callable[..., tuple[np.ndarray, np.ndarray]]) -> None:
    x, y = colours(16, 1)
    optimizer = graft.optimizers.RMSprop(learning_rate=1e-3, momentum=0.5, clipnorm=1.0)
    small_model.compile(optimizer=optimizer)
    assert optimizer.iterations == 0 and optimizer.learning_rate == pytest.approx(1e-3)
    small_model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert optimizer.iterations == 2
    optimizer.learning_rate = 1e-4
    assert optimizer.learning_rate == pytest.approx(1e-4) and optimizer.iterations == 2
    history = small_model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert optimizer.iterations == 4 and np.isfinite(history.history["loss"][0])
    with pytest.raises(graft.GraftError, match="learning_rate"):
        optimizer.learning_rate = -1.0
    assert optimizer.learning_rate == pytest.approx(1e-4)


def test_scheduled_learning_rate(small_model: graft.TransferModel,
                                 colours: Callable[..., tuple[np.ndarray, np.ndarray]]) -> None:
    x, y = colours(16, 2)
    schedule = schedules.ExponentialDecay(0.01, decay_steps=1, decay_rate=0.5)
    optimizer = graft.optimizers.SGD(learning_rate=schedule, momentum=0.9, weight_decay=0.01, global_clipnorm=1.0)
    small_model.compile(optimizer=optimizer)
    small_model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert optimizer.iterations == 4
    assert optimizer.learning_rate == pytest.approx(schedule(4)) == pytest.approx(0.01 / 16)
    with pytest.raises(TypeError, match="not settable"):
        optimizer.learning_rate = 0.1


def test_label_smoothing_and_class_weight_equal_keras(small_model: graft.TransferModel,
                                                      colours: Callable[..., tuple[np.ndarray, np.ndarray]]) -> None:
    """The loss of a fit's only batch, computed before its step, equals
    Keras's loss function on the same logits, one-hot labels and the sample
    weights Keras's fit makes of class_weight."""
    from keras.src.trainers.data_adapters.data_adapter_utils import class_weight_to_sample_weights

    x, y = colours(6, 7)
    one_hot = np.eye(3, dtype=np.float32)[y]
    class_weight = {0: 2.0, 2: 0.5}
    small_model.compile("sgd", loss=graft.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2))
    before = small_model.get_weights()
    logits = small_model.predict(x)
    history = small_model.fit(x, one_hot, batch_size=6, epochs=1, shuffle=False, class_weight=class_weight,
                              verbose=0)
    keras_loss = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2)(
        one_hot, logits, sample_weight=class_weight_to_sample_weights(one_hot, class_weight))
    # Both sum six float32 terms from the same logits.
    assert history.history["loss"][0] == pytest.approx(float(keras_loss), rel=1e-5)
    with pytest.raises(ValueError, match="one-hot"):
        small_model.fit(x, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="soft labels"):
        small_model.fit(x, one_hot * 0.9, epochs=1, verbose=0)
    # sample_weight: the class weights given image by image are the same loss.
    small_model.set_weights(before)
    small_model.compile("sgd", loss=graft.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.2))
    by_image = small_model.fit(x, one_hot, batch_size=6, epochs=1, shuffle=False, verbose=0,
                               sample_weight=[class_weight.get(int(label), 1.0) for label in y])
    assert by_image.history["loss"] == history.history["loss"]
    small_model.compile("sgd")
    with pytest.raises(ValueError, match="CategoricalCrossentropy"):
        small_model.fit(x, one_hot, epochs=1, verbose=0)


LOADED = [
    graft.optimizers.AdamW(learning_rate=schedules.CosineDecay(0.01, 20, alpha=0.1, warmup_target=0.02,
                                                               warmup_steps=3),
                           weight_decay=0.01, beta_1=0.8, global_clipnorm=1.5),
    graft.optimizers.SGD(learning_rate=schedules.PiecewiseConstantDecay([2, 5], [0.1, 0.05, 0.01]), momentum=0.9,
                         nesterov=True, clipvalue=0.5),
    graft.optimizers.RMSprop(learning_rate=0.002, rho=0.8, momentum=0.3, centered=True, clipnorm=2.0),
    graft.optimizers.Adam(learning_rate=schedules.ExponentialDecay(0.01, 4, 0.5, staircase=True)),
]


def assert_same_config(actual: dict, expected: dict, keys: list[str]) -> None:
    """The arguments `keys` agree: numbers to float32's precision (the
    library keeps float32), None, flags and lists exactly, schedules
    argument by argument."""
    for key in keys:
        if key not in expected or key == "name":
            continue
        want, got = expected[key], actual[key]
        if isinstance(want, dict):
            assert isinstance(got, dict), key
            assert_same_config(got.get("config", got), want.get("config", want), list(want.get("config", want)))
        elif isinstance(want, float):
            assert got == pytest.approx(want, rel=1e-7), key
        else:
            assert got == want, key


@pytest.mark.parametrize("optimizer", LOADED, ids=lambda o: type(o).__name__)
def test_loaded_model_has_its_optimizer(small_model: graft.TransferModel, colours: Callable, tmp_path,
                                        optimizer: graft.optimizers.Optimizer) -> None:
    """load_model gives back the optimizer compiled (class, arguments,
    schedule, steps), as Keras's load_model does; the library's serialized
    form is Keras's own (keras.optimizers.deserialize reads it to the same
    arguments)."""
    x, y = colours(8, 2)
    small_model.compile(optimizer=optimizer)
    small_model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    small_model.save(tmp_path / "m.h5")
    loaded = graft.load_model(tmp_path / "m.h5")
    try:
        restored = loaded.optimizer
        assert type(restored) is type(optimizer)
        assert_same_config(restored.get_config(), optimizer.get_config(), ARGUMENTS)
        assert restored.iterations == optimizer.iterations == 2
        assert restored.learning_rate == optimizer.learning_rate

        with loaded.base._lock:
            text = graft._lib.sized_text(graft._lib.lib.graft_model_optimizer_config, loaded.base._open_handle())
        theirs = keras.optimizers.deserialize(json.loads(text))
        assert type(theirs).__name__ == type(optimizer).__name__
        assert_same_config(theirs.get_config(), optimizer.get_config(), ARGUMENTS)
    finally:
        loaded.close()
