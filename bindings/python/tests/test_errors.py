"""Refused arguments: clear Python errors, and the library's messages as GraftError."""

import pickle

import numpy as np
import pytest

import graft
from graft.errors import Status

ResNet50 = graft.applications.ResNet50


def test_missing_weight_file_names_the_path(tmp_path):
    missing = tmp_path / "no_such_weights.h5"
    with pytest.raises(graft.GraftError) as error:
        ResNet50(weights=missing, input_shape=(32, 32, 3))
    assert error.value.status == Status.IO
    assert str(missing) in str(error.value)


def test_weights_of_another_architecture_name_the_layer(fixtures):
    with pytest.raises(graft.GraftError, match="conv4_block7") as error:
        ResNet50(weights=fixtures.path("resnet101_random.h5"), input_shape=(32, 32, 3))
    assert error.value.status == Status.FORMAT


def test_weight_of_the_wrong_shape_names_layer_and_both_shapes(fixtures):
    with pytest.raises(graft.GraftError) as error:
        ResNet50(weights=str(fixtures.path("resnet50_bad_shape.h5")), input_shape=(32, 32, 3))
    assert error.value.status == Status.FORMAT
    message = str(error.value)
    for part in ["conv2_block1_2_conv", "(3, 3, 64, 32)", "(3, 3, 64, 64)"]:
        assert part in message


def test_input_smaller_than_32_is_refused():
    with pytest.raises(graft.GraftError, match="32") as error:
        ResNet50(weights=None, input_shape=(31, 64, 3))
    assert error.value.status == Status.INVALID_ARGUMENT


@pytest.mark.parametrize("input_shape", [(64, 64), (64, 64, 1), (3, 64, 64), (None, None, 3)])
def test_input_shape_must_be_height_width_3(input_shape):
    with pytest.raises(ValueError, match="input_shape"):
        ResNet50(weights=None, input_shape=input_shape)


@pytest.mark.parametrize("arguments, explanation", [
    ({"include_top": True}, "include_top=False"),
    ({"pooling": "avg"}, "head"),
    ({"input_tensor": object()}, "input_shape"),
    ({"preprocessing": "torch"}, "preprocessing"),
    ({"seed": -1}, "seed"),
])
def test_unsupported_keras_arguments_are_explained(arguments, explanation):
    with pytest.raises(ValueError, match=explanation):
        ResNet50(weights=None, input_shape=(32, 32, 3), **arguments)


def test_imagenet_file_not_found_says_where_it_looked(tmp_path, monkeypatch):
    graft_dir, keras_home = tmp_path / "graft_weights", tmp_path / "keras_home"
    graft_dir.mkdir()
    keras_home.mkdir()
    monkeypatch.setenv("GRAFT_WEIGHTS_DIR", str(graft_dir))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    with pytest.raises(graft.GraftError) as error:
        ResNet50(weights="imagenet", input_shape=(32, 32, 3))
    assert error.value.status == Status.IO
    message = str(error.value)
    assert str(graft_dir) in message and str(keras_home / "models") in message
    assert ("https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
            "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5") in message


@pytest.mark.parametrize("shape", [(1, 100, 99, 3), (1, 100, 100, 1), (100, 100, 3), (2, 72, 120, 3)])
def test_wrong_input_shape_is_refused_and_the_model_still_works(
        resnet50_random, fixtures, assert_matches_keras, shape):
    model = resnet50_random(100, 100)
    with pytest.raises(ValueError) as error:
        model.predict(np.zeros(shape, np.float32))
    assert str((None, 100, 100, 3)) in str(error.value) and str(shape) in str(error.value)
    with pytest.raises(ValueError):
        model.features_from_images(np.zeros(shape, np.float32))
    assert_matches_keras(model.predict(fixtures.array("pre_100x100.f32")),
                         fixtures.array("out_100x100.f32"))


def test_training_mode_is_refused(resnet50_random):
    with pytest.raises(ValueError, match="inference"):
        resnet50_random(32, 32)(np.zeros((1, 32, 32, 3)), training=True)


def test_errors_are_keras_types(tmp_path) -> None:
    """Failures raise the Python types Keras raises, and are GraftErrors."""
    with pytest.raises(FileNotFoundError) as missing:
        graft.load_model(tmp_path / "missing.h5")
    assert isinstance(missing.value, graft.GraftError) and missing.value.status == graft.errors.Status.IO
    (tmp_path / "text.h5").write_text("not HDF5")
    with pytest.raises(ValueError) as malformed:
        graft.load_model(tmp_path / "text.h5")
    assert isinstance(malformed.value, graft.GraftError)
    with pytest.raises(ValueError) as bad:
        graft.optimizers.schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.5)
    assert bad.value.status == graft.errors.Status.INVALID_ARGUMENT
    assert pickle.loads(pickle.dumps(bad.value)).status == graft.errors.Status.INVALID_ARGUMENT
