"""model.summary() against Keras's, live: the same model built by both prints
the same table, and the parameter counts agree."""

from __future__ import annotations

import os

import pytest

import graft
from graft import summary

# Keras is the reference, installed into .venv by `make test`: no skipping.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
from keras.src.utils import summary_utils  # noqa: E402


@pytest.fixture(scope="module")
def models():
    """ResNet50 at 32x32 with GAP, Dense(64)+ReLU, Dropout, Dense(3); the base
    frozen but its last residual block: in Graft and in Keras (with Graft's
    head-layer names, which Keras would number per session)."""
    base = graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3), threads=2)
    model = graft.TransferModel(base, num_classes=3, hidden_units=[64], dropout=0.2)
    base.trainable = True
    for layer in base.layers[:-10]:
        layer.trainable = False
    head = [layer.name for layer in model.layers[len(base.layers):]]

    # Named inputs: Keras numbers its automatic names per session (input_layer_1, ...).
    inputs = keras.Input((32, 32, 3), name=base.layers[0].name)
    keras_base = keras.applications.ResNet50(include_top=False, weights=None, input_tensor=inputs)
    for layer in keras_base.layers[:-10]:
        layer.trainable = False
    x = keras.layers.GlobalAveragePooling2D(name=head[0])(keras_base.output)
    x = keras.layers.Dense(64, name=head[1])(x)
    x = keras.layers.Activation("relu", name=head[2])(x)
    x = keras.layers.Dropout(0.2, name=head[3])(x)
    outputs = keras.layers.Dense(3, name=head[4])(x)
    keras_model = keras.Model(keras_base.input, outputs, name="functional")
    yield model, keras_model, keras_base
    model.close()


def text(model, **kwargs) -> str:
    printed = []
    model.summary(print_fn=printed.append, **kwargs)
    assert len(printed) == 1
    return printed[0].rstrip("\n")


@pytest.mark.parametrize("columns, options", [(None, {}), ("100", {}), ("200", {}), ("200", {"line_length": 60}),
                                              ("200", {"line_length": 150, "show_trainable": True})])
def test_same_table_as_keras(models, monkeypatch, columns, options) -> None:
    """The terminal's width (COLUMNS here) sets the default line length."""
    if columns is not None:
        monkeypatch.setenv("COLUMNS", columns)
    model, keras_model, _ = models
    assert text(model, **options) == text(keras_model, **options)


def test_parameter_counts_are_keras_counts(models) -> None:
    model, keras_model, keras_base = models
    printed = text(model).splitlines()
    trainable = sum(int(w.numpy().size) for w in keras_model.trainable_weights)
    frozen = sum(int(w.numpy().size) for w in keras_model.non_trainable_weights)
    assert model.count_params() == keras_model.count_params() == trainable + frozen
    assert model.base.count_params() == keras_base.count_params()
    size = summary_utils.readable_memory_size(4 * (trainable + frozen))
    assert printed[-3] == f" Total params: {trainable + frozen:,} ({size})"
    assert printed[-2].startswith(f" Trainable params: {trainable:,} (")
    assert printed[-1].startswith(f" Non-trainable params: {frozen:,} (")
    # The whole base frozen: only the head trains.
    model.base.trainable = False
    try:
        lines = text(model).splitlines()
        head = 2048 * 64 + 64 + 64 * 3 + 3
        assert lines[-2].startswith(f" Trainable params: {head:,} (")
    finally:
        model.base.trainable = True
        for layer in model.base.layers[:-10]:
            layer.trainable = False


def test_layer_rows(models, monkeypatch) -> None:
    model, keras_model, _ = models
    monkeypatch.setenv("COLUMNS", "300")
    lines = text(model, line_length=250).splitlines()
    assert lines[0] == 'Model: "functional"'
    rows = {line.split("│")[1].split()[0]: line for line in lines if line.startswith("│ ")}
    assert len(rows) == len(model.layers) == len(keras_model.layers)
    assert "│ (None, 16, 16, 64) " in rows["conv1_conv"] and " 9,472 │ conv1_pad[0][0] " in rows["conv1_conv"]
    assert "│ conv2_block1_out[0][0], conv2_block2_3_bn[0][0] " in rows["conv2_block2_add"]
    dense = rows["dense_1"]
    assert " (Dense) " in dense and "(None, 3) " in dense and " 195 │ dropout[0][0] " in dense
    assert rows["input_layer"].rstrip("│ ").endswith("│ -")
    infos = summary.layer_infos(model.base._handle, len(model.layers))
    for info, layer in zip(infos, keras_model.layers):
        assert (info.name, info.class_name, info.output_shape, info.params) == (
            layer.name, type(layer).__name__, tuple(layer.output.shape), layer.count_params())


def test_base_summary_is_the_keras_bases(models) -> None:
    model, _, keras_base = models
    ours = text(model.base)
    theirs = text(keras_base)
    assert ours == theirs


def test_too_narrow_is_a_value_error(models) -> None:
    model, keras_model, _ = models
    with pytest.raises(ValueError, match="Insufficient console width"):
        text(keras_model, line_length=10)
    with pytest.raises(ValueError, match="Insufficient console width"):
        text(model, line_length=10)
