"""Keras 3's own model files, both ways, live against Keras: Keras opens
what Graft saves (.keras, full-model .h5, .weights.h5) and predicts what
Graft predicts; Graft opens what Keras saves, predicts what Keras predicts
and keeps training; models Graft cannot build are refused by name.

The models are the seed's: ResNet50 at 64x64 (the fixture's random weights,
BatchNormalization statistics included), Keras's preprocess_input, the base
nested with training=False (or flat), GlobalAveragePooling2D, an optional
hidden Dense with ReLU and Dropout, and Dense logits."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

import graft
from graft.errors import Status

# Keras is the reference, installed into .venv by `make test`: no skipping.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
from keras import layers  # noqa: E402

SIZE = 64
# Both compute in float32 through the base's 53 convolutions with different
# summation orders; this machine measured 3e-6 of the largest logit on these
# random-weight models (test_parity.py bounds the base at 1e-4 of its
# largest value). Every weight itself is compared exactly where a file
# carries it from one side to the other.
LOGIT_TOLERANCE = 1e-5


def keras_model(fixtures, *, hidden: int = 0, classes: int = 3, flip: bool = False, nested: bool = True,
                activation: str | None = None, top: str = "dense") -> keras.Model:
    """The seed's model built in Keras; flat: ResNet50(input_tensor=inputs),
    preprocess_input left to the caller as the flat form requires."""
    inputs = keras.Input((SIZE, SIZE, 3))
    x = inputs
    if flip:  # as the transfer-learning guide's data_augmentation, a Sequential model when nested
        flips = layers.RandomFlip("horizontal")
        x = keras.Sequential([flips])(x) if nested else flips(x)
    if nested:
        x = keras.applications.resnet.preprocess_input(x)
        base = keras.applications.ResNet50(include_top=top == "include_top", pooling="avg" if top == "pooling" else None,
                                           classes=classes, weights=None, input_shape=(SIZE, SIZE, 3))
        base.load_weights(str(fixtures.path("resnet50_random_top.h5" if top == "include_top" else "resnet50_random.h5")))
        base.trainable = False
        x = base(x, training=False)
        if top == "include_top":
            return keras.Model(inputs, x)
    else:
        base = keras.applications.ResNet50(include_top=False, weights=None, input_tensor=x)
        base.load_weights(str(fixtures.path("resnet50_random.h5")))
        x = base.output
    if top != "pooling":
        x = layers.GlobalAveragePooling2D()(x)
    if hidden:
        x = layers.Dense(hidden, activation="relu")(x)
        x = layers.Dropout(0.25)(x)
    model = keras.Model(inputs, layers.Dense(classes, activation=activation)(x))
    # Heads away from Keras's initial weights (biases are zeros).
    rng = np.random.default_rng(5)
    for layer in model.layers:
        if isinstance(layer, layers.Dense):
            layer.set_weights([w + rng.normal(0, 0.05, w.shape).astype(np.float32) for w in layer.get_weights()])
    return model


def images(count: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 255, (count, SIZE, SIZE, 3)).astype(np.float32)


def assert_same_predictions(ours: np.ndarray, theirs: np.ndarray) -> None:
    assert ours.shape == theirs.shape
    assert np.abs(ours - theirs).max() <= LOGIT_TOLERANCE * np.abs(theirs).max()


def assert_same_weights(graft_model: graft.TransferModel, keras_model: keras.Model) -> None:
    ours = [w for layer in graft_model.layers for w in layer.get_weights()]
    theirs = keras_model.get_weights()
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("hidden, flip", [(0, False), (16, True)])
def test_graft_reads_what_keras_saves(fixtures, tmp_path, suffix, hidden, flip) -> None:
    reference = keras_model(fixtures, hidden=hidden, flip=flip)
    path = str(tmp_path / f"model{suffix}")
    reference.save(path)
    x = images()
    with graft.load_model(path, threads=2) as model:
        assert_same_predictions(model.predict(x), reference.predict(x, verbose=0))
        assert_same_weights(model, reference)
        assert [layer.trainable for layer in model.layers][-1] and not model.layers[5].trainable  # base frozen, head not
        # It keeps training: one epoch of the head moves its weights.
        before = model.layers[-1].get_weights()[0].copy()
        model.compile(optimizer=graft.optimizers.Adam(learning_rate=0.01))
        history = model.fit(x, np.arange(len(x)) % 3, batch_size=3, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        assert not np.array_equal(model.layers[-1].get_weights()[0], before)


def logits_within_one(model: keras.Model, x: np.ndarray) -> None:
    """Scales the output Dense so that its logits on `x` lie within ±1.
    Softmax and sigmoid of large logits amplify the logits' summation-order
    differences (a saturated softmax moved 3e-5 for logits within 1e-5 of
    their largest): conditioned so, the probabilities' error is below the
    logits', and the logit bar applies to them."""
    flat = [layer for outer in model.layers for layer in getattr(outer, "layers", [outer])]
    dense = [layer for layer in flat if isinstance(layer, layers.Dense)][-1]
    squashing = [layer for layer in flat if getattr(layer, "activation", None) in
                 (keras.activations.softmax, keras.activations.sigmoid)][-1]
    activation, squashing.activation = squashing.activation, keras.activations.linear
    logits = np.asarray(model(x, training=False))
    squashing.activation = activation
    kernel, bias = dense.get_weights()
    scale = float(np.abs(logits).max())
    dense.set_weights([kernel / scale, bias / scale])


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("top, activation, classes", [("include_top", None, 10), ("pooling", "softmax", 4),
                                                      ("dense", "sigmoid", 1)])
def test_graft_reads_other_tops_and_output_activations(fixtures, tmp_path, suffix, top, activation, classes) -> None:
    """ResNet50's own top (avg_pool and predictions with softmax, inside the
    nested base), pooling="avg", and softmax or sigmoid on the output Dense:
    Graft predicts what Keras predicts, probabilities, and writes it back."""
    reference = keras_model(fixtures, classes=classes, activation=activation, top=top)
    x = images()
    logits_within_one(reference, x)
    path = str(tmp_path / f"model{suffix}")
    reference.save(path)
    theirs = reference.predict(x, verbose=0)
    with graft.load_model(path, threads=2) as model:
        assert_same_predictions(model.predict(x), theirs)
        model.save(tmp_path / f"again{suffix}")
        # It trains as Keras compiles it: the loss on probabilities. (ResNet's
        # own top is inside the frozen base: the output layer is unfrozen.)
        model.layers[-1].trainable = True
        loss = "binary_crossentropy" if classes == 1 else "sparse_categorical_crossentropy"
        with pytest.raises(ValueError, match="from_logits=False"):
            model.compile(optimizer="adam", loss=graft.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.compile(optimizer="adam", loss=loss)
        assert np.isfinite(model.fit(x, np.arange(len(x)) % 2, epochs=1, verbose=0).history["loss"][0])
    np.testing.assert_array_equal(keras.models.load_model(str(tmp_path / f"again{suffix}")).predict(x, verbose=0), theirs)


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_graft_reads_a_flat_keras_model(fixtures, tmp_path, suffix) -> None:
    reference = keras_model(fixtures, hidden=8, nested=False)
    path = str(tmp_path / f"flat{suffix}")
    reference.save(path)
    x = keras.applications.resnet.preprocess_input(images())
    with graft.load_model(path, threads=2) as model:
        assert_same_predictions(model.predict(x), reference.predict(x, verbose=0))


def test_graft_reads_a_deeper_resnet(fixtures, tmp_path) -> None:
    """ResNet101 (the fixture's random weights) at 32x32, nested."""
    inputs = keras.Input((32, 32, 3))
    base = keras.applications.ResNet101(include_top=False, weights=str(fixtures.path("resnet101_random.h5")),
                                        input_shape=(32, 32, 3))
    x = base(keras.applications.resnet.preprocess_input(inputs), training=False)
    reference = keras.Model(inputs, layers.Dense(2)(layers.GlobalAveragePooling2D()(x)))
    reference.save(str(tmp_path / "model.keras"))
    x = images()[:, :32, :32, :]
    with graft.load_model(tmp_path / "model.keras", threads=2) as model:
        assert model.base.name == "resnet101"
        assert_same_predictions(model.predict(x), reference.predict(x, verbose=0))


@pytest.mark.parametrize("hidden, classes, flip", [(0, 3, False), (16, 3, True), (0, 1, False)])
def test_keras_reads_what_graft_saves(fixtures, tmp_path, hidden, classes, flip) -> None:
    base = graft.applications.ResNet50(weights=str(fixtures.path("resnet50_random.h5")), input_shape=(SIZE, SIZE, 3),
                                       threads=2)
    model = graft.TransferModel(base, num_classes=classes, hidden_units=[hidden] if hidden else [],
                                dropout=0.25 if hidden else 0.0, augmentation="horizontal" if flip else None, seed=7)
    base.trainable = False
    model.compile(optimizer=graft.optimizers.Adam(learning_rate=0.01))
    x = images()
    model.fit(x, np.arange(len(x)) % 2, batch_size=3, epochs=1, verbose=0)
    ours = model.predict(x)
    for name in ["model.keras", "model.h5"]:
        model.save(tmp_path / name)
        theirs = keras.models.load_model(str(tmp_path / name))
        assert_same_predictions(ours, theirs.predict(x, verbose=0))
        assert_same_weights(model, theirs)
        assert theirs.get_layer("resnet50").trainable is False
    # The seed's own model takes the weights alone, and the whole-model .h5.
    seed_model = keras_model(fixtures, hidden=hidden, classes=classes, flip=flip)
    for name in ["model.weights.h5", "model.h5"]:
        if name.endswith(".weights.h5"):
            model.save_weights(tmp_path / name)
        for layer in seed_model.layers:
            layer.set_weights([np.zeros_like(w) for w in layer.get_weights()])
        seed_model.load_weights(str(tmp_path / name))
        assert_same_predictions(ours, seed_model.predict(x, verbose=0))
    model.close()


@pytest.mark.parametrize("preprocessing", ["rescale", "none"])
def test_keras_reads_the_other_preprocessings(fixtures, tmp_path, preprocessing) -> None:
    base = graft.applications.ResNet50(weights=str(fixtures.path("resnet50_random.h5")), input_shape=(SIZE, SIZE, 3),
                                       preprocessing=preprocessing, threads=2)
    model = graft.TransferModel(base, num_classes=2, seed=4)
    x = images(3) / (255 if preprocessing == "none" else 1)
    for name in ["model.keras", "model.h5"]:
        model.save(tmp_path / name)
        theirs = keras.models.load_model(str(tmp_path / name))
        assert_same_predictions(model.predict(x), theirs.predict(x, verbose=0))
        with graft.load_model(tmp_path / name) as again:
            assert again.base.preprocessing == preprocessing
    model.close()


def test_keras_takes_the_trainable_flags_of_a_partly_unfrozen_base(fixtures, tmp_path) -> None:
    """The beans workflow's second phase: the last residual block trains.
    Keras's full-model loader takes a nested model's weights trainable ones
    first, so the file's order depends on the flags."""
    base = graft.applications.ResNet50(weights=str(fixtures.path("resnet50_random.h5")), input_shape=(SIZE, SIZE, 3),
                                       threads=2)
    model = graft.TransferModel(base, num_classes=3, seed=2)
    base.trainable = True
    for layer in base.layers[:-10]:
        layer.trainable = False
    model.compile(optimizer=graft.optimizers.SGD(learning_rate=0.01))
    x = images()
    model.fit(x, np.arange(len(x)) % 3, batch_size=3, epochs=1, verbose=0)
    for name in ["model.h5", "model.keras"]:
        model.save(tmp_path / name)
        theirs = keras.models.load_model(str(tmp_path / name))
        assert_same_predictions(model.predict(x), theirs.predict(x, verbose=0))
        assert_same_weights(model, theirs)
        nested = theirs.get_layer("resnet50")
        assert [layer.trainable for layer in nested.layers[1:]] == [layer.trainable for layer in base.layers[1:]]
    model.close()


@pytest.mark.parametrize("suffix", [".keras", ".h5", ".weights.h5"])
def test_the_seed_model_round_trips(fixtures, tmp_path, suffix) -> None:
    """The issue's bar: Keras -> Graft -> Keras, each way within the logit tolerance."""
    reference = keras_model(fixtures, hidden=16, flip=True)
    x = images()
    theirs = reference.predict(x, verbose=0)
    first, second = str(tmp_path / "keras.keras"), str(tmp_path / f"graft{suffix}")
    reference.save(first)
    with graft.load_model(first, threads=2) as model:
        assert_same_predictions(model.predict(x), theirs)
        if suffix == ".weights.h5":
            model.save_weights(second)
            back = keras_model(fixtures, hidden=16, flip=True)
            back.load_weights(second)
        else:
            model.save(second)
            back = keras.models.load_model(second)
    np.testing.assert_array_equal(back.predict(x, verbose=0), theirs)  # the same weights in the same Keras graph


def test_graft_keeps_its_own_settings_in_its_h5(fixtures, tmp_path) -> None:
    base = graft.applications.ResNet50(weights=str(fixtures.path("resnet50_random.h5")), input_shape=(SIZE, SIZE, 3),
                                       threads=2)
    model = graft.TransferModel(base, num_classes=3, seed=11)
    model.class_names = ["a", "b", "c"]
    model.compile(optimizer=graft.optimizers.SGD(learning_rate=0.1, momentum=0.5))
    model.save(tmp_path / "model.h5")
    model.save(tmp_path / "model.keras")
    with graft.load_model(tmp_path / "model.h5") as again:
        assert again.class_names == ["a", "b", "c"]
        assert isinstance(again.optimizer, graft.optimizers.SGD)
    with graft.load_model(tmp_path / "model.keras") as again:
        assert again.class_names == ["a", "b", "c"] and again.optimizer is None  # the model, and Graft's class names
        np.testing.assert_array_equal(again.predict(images(2)), model.predict(images(2)))
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        assert [info.filename for info in archive.infolist()] == ["metadata.json", "config.json", "model.weights.h5",
                                                                  "graft.json"]
        assert archive.testzip() is None
    model.close()


def unsupported_models(fixtures):
    """(model, the layer Graft's error names)."""
    yield keras_model(fixtures, activation="tanh"), "activation tanh"
    yield keras_model(fixtures, activation="softmax", classes=1), "softmax over 2 or more units"
    inputs = keras.Input((SIZE, SIZE, 3))
    base = keras.applications.EfficientNetB0(include_top=False, weights=None, input_tensor=inputs)
    yield keras.Model(inputs, layers.Dense(3)(layers.GlobalAveragePooling2D()(base.output))), "normalization"
    yield keras.Sequential([keras.Input((SIZE, SIZE, 3)), Doubling(), layers.GlobalAveragePooling2D(), layers.Dense(2)]), \
        "no ResNet base"
    reference = keras_model(fixtures)
    x = Doubling()(reference.output)
    yield keras.Model(reference.input, x), "doubling"


@keras.saving.register_keras_serializable(package="graft_tests")
class Doubling(layers.Layer):
    def call(self, x):
        return 2 * x


def test_models_graft_cannot_build_are_refused(fixtures, tmp_path) -> None:
    for i, (model, named) in enumerate(unsupported_models(fixtures)):
        for suffix in [".keras", ".h5"]:
            path = str(tmp_path / f"m{i}{suffix}")
            model.save(path)
            with pytest.raises(graft.GraftError, match=named) as error:
                graft.load_model(path)
            assert error.value.status == Status.FORMAT


def test_a_config_whose_connections_loop_is_refused(fixtures, tmp_path) -> None:
    base = graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3), threads=1)
    with graft.TransferModel(base, num_classes=2) as model:
        model.save(tmp_path / "model.keras")
    with zipfile.ZipFile(tmp_path / "model.keras") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    output = config["config"]["layers"][-1]
    output["inbound_nodes"][0]["args"][0]["config"]["keras_history"][0] = output["name"]  # it reads itself
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(tmp_path / "loop.keras", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(graft.GraftError, match="form a loop"):
        graft.load_model(tmp_path / "loop.keras")


def test_damaged_archives_are_refused(tmp_path) -> None:
    path = tmp_path / "bad.keras"
    path.write_bytes(b"PK\x03\x04" + bytes(40))
    with pytest.raises(graft.GraftError, match="not a zip archive"):
        graft.load_model(path)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{\"class_name\": ")
    with pytest.raises(graft.GraftError, match="invalid JSON"):
        graft.load_model(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config.json", "[" * 100_000)
    with pytest.raises(graft.GraftError, match="nested deeper"):
        graft.load_model(path)
