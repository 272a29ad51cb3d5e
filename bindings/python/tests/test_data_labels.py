"""Keras's other label sources and modes, unbatched datasets, and Keras's
argument errors, against Keras itself on the same folder.

labels=None and labels=[...] index every image under the folder, loose ones
and class folders alike, in Keras's order: the file order is compared with
Keras's own listing; the errors match the patterns Keras's own tests
(keras/src/utils/image_dataset_utils_test.py) match.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import graft

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Two class folders (one nested) and three loose images, of several sizes."""
    root = tmp_path_factory.mktemp("labels")
    rng = np.random.default_rng(5)
    names = ["class_0/a.png", "class_0/sub/b.png", "class_0/c.png", "class_1/d.png", "class_1/e.png",
             "loose_1.png", "loose_0.png", "z/zz/f.png"]
    for i, name in enumerate(names):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (10 + i, 14, 3), dtype=np.uint8)
        keras.utils.save_img(str(path), pixels)
    return str(root)


def both(folder: str, **kwargs):
    """The same call to Keras and to Graft."""
    reference = keras.utils.image_dataset_from_directory(folder, image_size=(12, 12), verbose=False, **kwargs)
    return reference, graft.image_dataset_from_directory(folder, image_size=(12, 12), verbose=False, **kwargs)


def test_no_labels_lists_every_image_as_keras(folder: str) -> None:
    for arguments in ({"labels": None}, {"label_mode": None}):
        reference, dataset = both(folder, shuffle=False, batch_size=3, **arguments)
        assert dataset.class_names is None and dataset.labels is None
        assert dataset.file_paths == reference.file_paths and len(dataset.file_paths) == 8
        batches = list(dataset)
        assert [b.shape for b in batches] == [(3, 12, 12, 3), (3, 12, 12, 3), (2, 12, 12, 3)]
        expected = np.concatenate([b.numpy() for b in reference])
        np.testing.assert_allclose(np.concatenate(batches), expected, atol=1e-3)


def test_label_list_in_keras_file_order(folder: str) -> None:
    given = [0, 1, 1, 0, 1, 0, 0, 1]
    reference, dataset = both(folder, labels=given, shuffle=False, batch_size=8)
    assert dataset.class_names == reference.class_names == ["0", "1"]
    assert dataset.file_paths == reference.file_paths
    (images, labels), = list(dataset)
    (_, keras_labels), = list(reference)
    np.testing.assert_array_equal(labels, keras_labels.numpy())
    np.testing.assert_array_equal(labels, given)
    # Shuffled with a seed: the files in Keras's shuffled order, each with its label.
    listing = dataset.file_paths
    reference, dataset = both(folder, labels=given, shuffle=True, seed=3, batch_size=8)
    assert dataset.file_paths == reference.file_paths != listing
    np.testing.assert_array_equal(dataset.labels, [given[listing.index(p)] for p in dataset.file_paths])


def test_binary_labels(folder: str) -> None:
    reference, dataset = both(folder, class_names=["class_0", "class_1"], label_mode="binary", shuffle=False,
                              batch_size=8)
    (images, labels), = list(dataset)
    (_, keras_labels), = list(reference)
    assert labels.dtype == np.float32 and labels.shape == (5, 1)
    np.testing.assert_array_equal(labels, keras_labels.numpy())


def test_unbatched(folder: str) -> None:
    reference, dataset = both(folder, batch_size=None, shuffle=False, class_names=["class_0", "class_1"])
    elements, keras_elements = list(dataset), list(reference)
    assert len(dataset) == len(elements) == len(keras_elements) == 5
    for (image, label), (keras_image, keras_label) in zip(elements, keras_elements):
        assert image.shape == (12, 12, 3) and label.shape == ()
        assert label == keras_label.numpy()
        np.testing.assert_allclose(image, keras_image.numpy(), atol=1e-3)
    images_only = list(graft.image_dataset_from_directory(folder, image_size=(12, 12), batch_size=None,
                                                          labels=None, shuffle=False, verbose=False))
    assert len(images_only) == 8 and images_only[0].shape == (12, 12, 3)


# Keras's own tests' patterns, with the arguments they pass (three classes).
KERAS_ERRORS = [
    ({"labels": "other"}, "`labels` argument should be"),
    ({"label_mode": "other"}, "`label_mode` argument must be"),
    ({"color_mode": "other"}, "`color_mode` must be one of"),
    ({"labels": [0, 0, 1, 1, 1], "class_names": ["class_0", "class_1", "class_2"]},
     'only pass `class_names` if `labels="inferred"`'),
    ({"labels": [0, 0, 1, 1]}, "Expected the lengths of `labels` to match the number of files"),
    ({"class_names": ["class_0", "wrong_class"]}, "`class_names` passed did not match"),
    ({"label_mode": "binary"}, "there must be exactly 2"),
    ({"validation_split": 2}, "`validation_split` must be between 0 and 1"),
    ({"validation_split": 0.2, "subset": "other"}, '`subset` must be either "training", "validation" or "both"'),
    ({"validation_split": 0.0, "subset": "training"}, "`validation_split` must be set"),
    ({"validation_split": 0.2, "subset": "training"}, "must provide a `seed`"),
]


@pytest.mark.parametrize("arguments, pattern", KERAS_ERRORS)
def test_keras_errors(tmp_path: Path, arguments: dict, pattern: str) -> None:
    for c in range(3):
        for i in range(2):
            path = tmp_path / f"class_{c}" / f"{i}.png"
            path.parent.mkdir(exist_ok=True)
            keras.utils.save_img(str(path), np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match=re.escape(pattern)):
        keras.utils.image_dataset_from_directory(str(tmp_path), verbose=False, **arguments)
    with pytest.raises(ValueError, match=re.escape(pattern)):
        graft.image_dataset_from_directory(str(tmp_path), verbose=False, **arguments)


def test_no_images_and_graft_differences(tmp_path: Path) -> None:
    (tmp_path / "class_0").mkdir()
    (tmp_path / "class_1").mkdir()
    with pytest.raises(ValueError, match="No images found."):
        graft.image_dataset_from_directory(str(tmp_path), verbose=False)
    keras.utils.save_img(str(tmp_path / "class_0" / "a.png"), np.zeros((4, 4, 3), np.uint8))
    # Deliberate differences say how Graft differs, as ValueError.
    with pytest.raises(ValueError, match="Graft refuses a class without images"):
        graft.image_dataset_from_directory(str(tmp_path), verbose=False)
    keras.utils.save_img(str(tmp_path / "class_1" / "b.png"), np.zeros((4, 4, 3), np.uint8))
    # Graft's limits are checked after Keras's own checks and the listing.
    with pytest.raises(ValueError, match="`validation_split` must be between 0 and 1"):
        graft.image_dataset_from_directory(str(tmp_path), format="grain", validation_split=2, verbose=False)
    with pytest.raises(ValueError, match="Graft's datasets are its own"):
        graft.image_dataset_from_directory(str(tmp_path), format="grain", verbose=False)
    with pytest.raises(ValueError, match="0, 1, ..., k-1"):
        graft.image_dataset_from_directory(str(tmp_path), labels=[3, 0], verbose=False)
    with pytest.raises(ValueError, match="0, 1, ..., k-1"):
        graft.image_dataset_from_directory(str(tmp_path), labels=[2**40, 0], verbose=False)
    with pytest.raises(ValueError, match="channels last"):
        graft.image_dataset_from_directory(str(tmp_path), data_format="channels_first", verbose=False)


def test_model_predicts_on_unlabelled_data_and_refuses_to_train_on_it(tmp_path: Path, small_model) -> None:
    for i in range(5):
        keras.utils.save_img(str(tmp_path / f"{i}.png"), np.full((32, 32, 3), 40 * i, np.uint8))
    for batch_size in (2, None):
        images = graft.image_dataset_from_directory(str(tmp_path), labels=None, image_size=(32, 32),
                                                    batch_size=batch_size, shuffle=False, verbose=False)
        stacked = np.stack(list(images)) if batch_size is None else np.concatenate(list(images))
        np.testing.assert_allclose(small_model.predict(images), small_model.predict(stacked), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="has no labels"):
        small_model.fit(images, epochs=1, verbose=0)
