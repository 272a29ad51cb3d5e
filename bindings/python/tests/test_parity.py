"""Features of the fixture ResNet50 equal Keras's base(x, training=False)."""

import numpy as np
import pytest

import graft

SIZES = [(100, 100), (72, 120), (32, 32)]


@pytest.mark.parametrize("height, width", SIZES)
def test_predict_matches_keras(resnet50_random, fixtures, assert_matches_keras, height, width):
    model = resnet50_random(height, width)
    features = model.predict(fixtures.array(f"pre_{height}x{width}.f32"))
    assert_matches_keras(features, fixtures.array(f"out_{height}x{width}.f32"))


@pytest.mark.parametrize("height, width", SIZES)
def test_features_from_images_applies_caffe_preprocessing(resnet50_random, fixtures,
                                                          assert_matches_keras, height, width):
    model = resnet50_random(height, width)
    features = model.features_from_images(fixtures.array(f"raw_{height}x{width}.f32"))
    assert_matches_keras(features, fixtures.array(f"out_{height}x{width}.f32"))


def test_call_is_predict(resnet50_random, fixtures, assert_matches_keras):
    model = resnet50_random(100, 100)
    assert_matches_keras(model(fixtures.array("pre_100x100.f32"), training=False),
                         fixtures.array("out_100x100.f32"))


def test_tf_layout_file_gives_the_same_features(fixtures, assert_matches_keras):
    """The Keras 2 / ImageNet-file layout of the same weights (names with ":0")."""
    with graft.applications.ResNet50(weights=fixtures.path("resnet50_random_tf.h5"),
                                     input_shape=(32, 32, 3)) as model:
        assert_matches_keras(model.predict(fixtures.array("pre_32x32.f32")),
                             fixtures.array("out_32x32.f32"))


def _cpu_has_bfloat16() -> bool:
    with open("/proc/cpuinfo") as cpuinfo:
        return any("avx512_bf16" in line.split() for line in cpuinfo if line.startswith("flags"))


def test_bfloat16_precision(fixtures):
    """precision="bfloat16" keeps each image's features within 2% (relative L2) of
    Keras's float32 ones (about 0.7% measured; the bar is the Swift test's), and is
    refused with a clear error on a CPU without AVX512_BF16."""
    weights = fixtures.path("resnet50_random_tf.h5")
    if not _cpu_has_bfloat16():
        with pytest.raises(graft.GraftError, match="AVX512_BF16"):
            graft.applications.ResNet50(weights=weights, input_shape=(100, 100, 3), precision="bfloat16")
        return
    with graft.applications.ResNet50(weights=weights, input_shape=(100, 100, 3), precision="bfloat16") as model:
        assert model.precision == "bfloat16"
        features = model.predict(fixtures.array("pre_100x100.f32"))
    expected = fixtures.array("out_100x100.f32")
    for got, want in zip(features, expected):
        assert np.linalg.norm(got - want) <= 0.02 * np.linalg.norm(want)


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision"):
        graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3), precision="float16")


def test_precision_can_be_switched(fixtures, assert_matches_keras):
    """base.precision switches the library model both ways: bfloat16 moves the
    features (where the CPU has it; refused, and nothing changes, where not),
    float32 gives Keras's numbers again."""
    with graft.applications.ResNet50(weights=fixtures.path("resnet50_random.h5"),
                                     input_shape=(100, 100, 3)) as model:
        assert model.precision == "float32"
        pre, expected = fixtures.array("pre_100x100.f32"), fixtures.array("out_100x100.f32")
        if _cpu_has_bfloat16():
            model.precision = "bfloat16"
            assert model.precision == "bfloat16"
            assert not np.allclose(model.predict(pre), expected, rtol=0, atol=1e-4 * np.abs(expected).max())
        else:
            with pytest.raises(graft.GraftError, match="AVX512_BF16"):
                model.precision = "bfloat16"
        with pytest.raises(ValueError, match="precision"):
            model.precision = "float16"
        model.precision = "float32"
        assert_matches_keras(model.predict(pre), expected)
