"""precision="int8": calibrated on images (an array or a dataset), the base's
features stay near Keras's float32 ones; refused clearly without a
calibration or on a CPU without AVX512_VNNI."""

import h5py
import numpy as np
import pytest

import graft


def _cpu_has_vnni() -> bool:
    with open("/proc/cpuinfo") as cpuinfo:
        return any("avx512_vnni" in line.split() for line in cpuinfo if line.startswith("flags"))


def _relative_errors(features: np.ndarray, expected: np.ndarray) -> list[float]:
    return [float(np.linalg.norm(got - want) / np.linalg.norm(want)) for got, want in zip(features, expected)]


def test_int8_needs_a_calibration(fixtures):
    with graft.applications.ResNet50(weights=fixtures.path("resnet50_random.h5"),
                                     input_shape=(32, 32, 3)) as model:
        with pytest.raises(graft.GraftError, match="calibrate|AVX512_VNNI"):
            model.precision = "int8"
        assert model.precision == "float32"
        with pytest.raises(ValueError, match="calibrate"):
            model.calibrate(np.zeros((2, 64, 64, 3), np.float32))
        with pytest.raises(ValueError, match="calibrate"):
            model.calibrate(np.zeros((0, 32, 32, 3), np.float32))
    with pytest.raises(graft.GraftError, match="calibrat|AVX512_VNNI"):
        graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3), precision="int8")


def test_int8_features_near_keras(fixtures):
    """Calibrated on the fixture images themselves, each image's features
    within 5% (relative L2; the bar is the Swift test's) of Keras's float32
    ones; float32 gives Keras's numbers again after."""
    raw, expected = fixtures.array("raw_100x100.f32"), fixtures.array("out_100x100.f32")
    with graft.applications.ResNet50(weights=fixtures.path("resnet50_random_tf.h5"),
                                     input_shape=(100, 100, 3)) as model:
        model.calibrate(raw)
        if not _cpu_has_vnni():
            with pytest.raises(graft.GraftError, match="AVX512_VNNI"):
                model.precision = "int8"
            return
        model.precision = "int8"
        assert model.precision == "int8"
        assert max(_relative_errors(model.features_from_images(raw), expected)) <= 0.05
        model.precision = "float32"
        assert max(_relative_errors(model.features_from_images(raw), expected)) <= 1e-4


@pytest.mark.skipif(not _cpu_has_vnni(), reason="int8 needs AVX512_VNNI (refusal tested above)")
def test_calibration_from_a_dataset_equals_the_array_one(fixtures):
    """A dataset of the same images gives the same ranges, hence the same
    int8 features, bit for bit."""
    raw = fixtures.array("raw_32x32.f32")
    dataset = graft.data.ImageDataset.from_arrays(np.clip(raw, 0, 255).astype(np.uint8),
                                                  np.zeros(len(raw), np.int32), batch_size=2)
    images = np.clip(raw, 0, 255).astype(np.uint8).astype(np.float32)
    results = []
    for data in (images, dataset):
        with graft.applications.ResNet50(weights=fixtures.path("resnet50_random_tf.h5"),
                                         input_shape=(32, 32, 3)) as model:
            model.calibrate(data)
            model.precision = "int8"
            results.append(model.features_from_images(images))
    np.testing.assert_array_equal(results[0], results[1])


@pytest.mark.parametrize("attribute, corrupt", [
    ("calibration_ranges", lambda values: np.where(np.arange(len(values)) == 0, -1.0, values)),
    ("calibration_ranges", lambda values: values[:-1]),
    ("calibration_layers", lambda names: [b"no_such_layer"] + list(names[1:])),
])
def test_a_saved_calibration_is_checked_when_read(tmp_path, small_model, colours, attribute, corrupt):
    """A model file's int8 ranges belong to base layers, one each, positive:
    anything else is a clear format error, not a model that computes
    garbage."""
    small_model.base.calibrate(colours(4, 1)[0])
    path = tmp_path / "model.h5"
    small_model.save(path)
    with h5py.File(path, "r+") as file:
        file["graft"].attrs[attribute] = corrupt(file["graft"].attrs[attribute])
    with pytest.raises(graft.GraftError, match="calibration"):
        graft.load_model(path)
