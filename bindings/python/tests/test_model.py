"""The BaseModel object: shapes, batches, lifetime; the package's metadata."""

import pickle
import re
import threading
from pathlib import Path

import numpy as np
import pytest

import graft
from graft.errors import Status

REPO = Path(__file__).resolve().parents[3]


def test_versions():
    # One owner: graft.h's GRAFT_VERSION, which the library and the package
    # report (the command's is checked by make test-cli and test-wheel).
    header = (REPO / "include" / "graft.h").read_text()
    version = re.search(r'^#define GRAFT_VERSION "(\d+\.\d+\.\d+)"$', header, re.MULTILINE).group(1)
    assert graft.__version__ == graft.library_version() == version


def test_shapes_and_name(resnet50_random):
    model = resnet50_random(72, 120)
    assert model.name == "resnet50"
    assert model.input_shape == (None, 72, 120, 3)
    assert model.output_shape == (None, 3, 4, 2048)


def test_default_input_shape_is_224():
    with graft.applications.ResNet50(weights=None) as model:
        assert model.input_shape == (None, 224, 224, 3)
        assert model.output_shape == (None, 7, 7, 2048)


def test_empty_batch_gives_empty_features(resnet50_random):
    features = resnet50_random(32, 32).predict(np.zeros((0, 32, 32, 3)))
    assert features.shape == (0, 1, 1, 2048) and features.dtype == np.float32


def test_any_array_like_input(resnet50_random, fixtures, assert_matches_keras):
    """Lists, float64 and non-contiguous arrays are converted like Keras does."""
    model = resnet50_random(32, 32)
    pre = fixtures.array("pre_32x32.f32")
    expected = fixtures.array("out_32x32.f32")
    assert_matches_keras(model.predict(pre.astype(np.float64).tolist()), expected)
    # Every other column of an array twice as wide: a strided view.
    wide = np.repeat(pre, 2, axis=2)[:, :, ::2]
    assert not wide.flags.c_contiguous
    assert_matches_keras(model.predict(wide), expected)


def test_random_init_depends_on_seed():
    images = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3))
    features = []
    for seed in [1, 1, 2]:
        with graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3), seed=seed) as model:
            features.append(model.features_from_images(images))
    assert np.array_equal(features[0], features[1])
    assert not np.array_equal(features[0], features[2])


def test_threads_share_a_model(resnet50_random, fixtures, assert_matches_keras):
    """Calls from several threads run one at a time on the model, all correct."""
    model = resnet50_random(32, 32)
    pre, expected = fixtures.array("pre_32x32.f32"), fixtures.array("out_32x32.f32")
    results = [None] * 4

    def work(slot: int) -> None:
        results[slot] = model.predict(pre)

    threads = [threading.Thread(target=work, args=(slot,)) for slot in range(len(results))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for features in results:
        assert_matches_keras(features, expected)


def test_close_twice_then_predict_raises():
    model = graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3))
    model.close()
    model.close()
    with pytest.raises(graft.GraftError, match="closed") as error:
        model.predict(np.zeros((1, 32, 32, 3)))
    assert error.value.status == Status.STATE
    # The shapes and layers stay readable: they were copied at creation.
    assert len(model.layers) == 175 and "closed" in repr(model)


def test_graft_error_is_a_runtime_error_with_a_status():
    error = graft.GraftError(Status.FORMAT, "bad file")
    assert isinstance(error, RuntimeError)
    assert (error.status, error.message, str(error)) == (Status.FORMAT, "bad file", "bad file")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.status, copy.message) == (Status.FORMAT, "bad file")
