"""Bad input to the Python data API: clear exceptions, nothing crashes."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import graft
from graft.errors import Status

# A valid 1x1 red PNG.
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c"
                    "4944415478 9c63f8cfc00000030101 00c9fe92ef0000000049454e44ae426082".replace(" ", ""))


def tree(root: Path, files: dict[str, bytes]) -> str:
    for relative, data in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return str(root)


def test_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(graft.GraftError, match="directory not found") as error:
        graft.image_dataset_from_directory(tmp_path / "nope", verbose=False)
    assert error.value.status == Status.IO
    with pytest.raises(graft.GraftError, match="no class folders"):
        graft.image_dataset_from_directory(tree(tmp_path / "a", {"loose.png": PNG}), verbose=False)
    with pytest.raises(graft.GraftError, match="has no images"):
        graft.image_dataset_from_directory(tree(tmp_path / "b", {"x/1.png": PNG, "y/n.txt": b"1"}), verbose=False)


def test_keras_argument_checks(tmp_path: Path) -> None:
    root = tree(tmp_path, {"a/1.png": PNG, "b/2.png": PNG, "b/3.png": PNG})
    with pytest.raises(graft.GraftError, match="between 0 and 1"):
        graft.image_dataset_from_directory(root, validation_split=1.5, subset="training", seed=1, verbose=False)
    with pytest.raises(graft.GraftError, match="seed"):
        graft.image_dataset_from_directory(root, validation_split=0.5, subset="training", verbose=False)
    with pytest.raises(ValueError, match="`validation_split` must be set"):
        graft.image_dataset_from_directory(root, subset="both", verbose=False)
    with pytest.raises(ValueError, match="subset"):
        graft.image_dataset_from_directory(root, subset="Training", validation_split=0.5, seed=1, verbose=False)
    with pytest.raises(graft.GraftError, match="image_size"):
        graft.image_dataset_from_directory(root, image_size=(0, 10), verbose=False)
    with pytest.raises(graft.GraftError, match="batch_size"):
        graft.image_dataset_from_directory(root, batch_size=0, verbose=False)
    with pytest.raises(ValueError, match="color_mode"):
        graft.image_dataset_from_directory(root, color_mode="greyscale", verbose=False)


def test_corrupt_file_named_and_skippable(tmp_path: Path) -> None:
    root = tree(tmp_path, {"a/good.png": PNG, "a/bad.png": PNG[:30], "b/zero.jpg": b""})
    dataset = graft.image_dataset_from_directory(root, image_size=(4, 4), shuffle=False, verbose=False)
    with pytest.raises(graft.GraftError, match="bad.png|zero.jpg") as error:
        list(dataset)
    assert error.value.status == Status.FORMAT
    # The dataset stays usable: a new pass fails the same way, no crash.
    with pytest.raises(graft.GraftError):
        list(dataset)
    skipping = graft.image_dataset_from_directory(root, image_size=(4, 4), shuffle=False, verbose=False,
                                                  skip_corrupt_files=True)
    batches = list(skipping)
    assert sum(len(labels) for _, labels in batches) == 1
    np.testing.assert_array_equal(batches[0][0][0, 0, 0], [255, 0, 0])


def test_from_arrays_checks() -> None:
    with pytest.raises(ValueError, match="shape"):
        graft.ImageDataset.from_arrays(np.zeros((2, 4, 4)), [0, 1])
    with pytest.raises(ValueError, match="labels"):
        graft.ImageDataset.from_arrays(np.zeros((2, 4, 4, 3), np.uint8), [0, 1, 2])
    with pytest.raises(graft.GraftError, match="label 5"):
        graft.ImageDataset.from_arrays(np.zeros((2, 4, 4, 3), np.uint8), [0, 5], num_classes=2)
    dataset = graft.ImageDataset.from_arrays(np.full((3, 2, 2, 3), 7, np.uint8), [0, 1, 1], batch_size=2,
                                             shuffle=False, label_mode="categorical")
    (images, labels), (rest, last) = list(dataset)
    assert images.shape == (2, 2, 2, 3) and np.all(images == 7)
    np.testing.assert_array_equal(labels, [[1, 0], [0, 1]])
    assert rest.shape == (1, 2, 2, 3) and last.shape == (1, 2)
    dataset.close()
    with pytest.raises(graft.GraftError, match="closed"):
        list(dataset)


def test_special_files_and_pixel_limit(tmp_path: Path) -> None:
    # A FIFO would block a plain open for ever, /dev/zero would be read until
    # memory runs out: both are refused as not regular files, at once.
    makers = {"pipe.jpg": lambda path: os.mkfifo(path), "zero.png": lambda path: os.symlink("/dev/zero", path)}
    for name, make in makers.items():
        root = tree(tmp_path / name, {"a/good.png": PNG})
        make(os.path.join(root, "a", name))
        dataset = graft.image_dataset_from_directory(root, image_size=(4, 4), shuffle=False, verbose=False)
        with pytest.raises(graft.GraftError, match=f"{name}: is a (FIFO|character device), not a regular file") as error:
            list(dataset)
        assert error.value.status == Status.IO
        skipping = graft.image_dataset_from_directory(root, image_size=(4, 4), verbose=False, skip_corrupt_files=True)
        assert sum(len(labels) for _, labels in skipping) == 1
    # The pixel limit, exactly: the 1x1 PNG is within 1 pixel, 3x2 not within 5.
    root = tree(tmp_path / "small", {"a/good.png": PNG})
    assert len(list(graft.image_dataset_from_directory(root, image_size=(4, 4), max_image_pixels=1,
                                                       verbose=False))) == 1
    with pytest.raises(graft.GraftError, match="max_image_pixels must be at least 1"):
        graft.image_dataset_from_directory(root, max_image_pixels=0, verbose=False)
    big = tree(tmp_path / "big", {"a/wide.png": wide_png(3, 2)})
    with pytest.raises(graft.GraftError, match=r"PNG of 3x2 pixels is over the pixel limit of 5") as error:
        list(graft.image_dataset_from_directory(big, image_size=(4, 4), max_image_pixels=5, verbose=False))
    assert error.value.status == Status.FORMAT
    assert len(list(graft.image_dataset_from_directory(big, image_size=(4, 4), max_image_pixels=6,
                                                       verbose=False))) == 1


def wide_png(width: int, height: int) -> bytes:
    """An 8-bit RGB PNG of width x height black pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x00" * 3 * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def test_skipped_batches_do_not_end_the_pass(tmp_path: Path, small_model) -> None:
    # Unshuffled, batch_size 2: the first batch is the two broken files of
    # class a, the second the good images. Skipping them must not read as
    # the end of the pass (an empty batch), as it once did: fit reported a
    # NaN loss and evaluate failed on a count.
    root = tree(tmp_path / "some", {"a/1.png": PNG[:30], "a/2.jpg": b"", "b/3.png": PNG, "c/4.png": PNG})
    dataset = graft.image_dataset_from_directory(root, image_size=(32, 32), batch_size=2, shuffle=False,
                                                 verbose=False, skip_corrupt_files=True)
    batches = list(dataset)
    assert [list(labels) for _, labels in batches] == [[1, 2]]
    history = small_model.fit(dataset, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    loss, accuracy = small_model.evaluate(dataset, verbose=0)
    assert np.isfinite(loss) and accuracy in (0.0, 0.5, 1.0)

    # Nothing readable at all: a clear error from fit and evaluate, not a NaN.
    broken = tree(tmp_path / "none", {"a/1.png": PNG[:30], "b/2.jpg": b"", "c/3.png": b"x"})
    unreadable = graft.image_dataset_from_directory(broken, image_size=(32, 32), verbose=False,
                                                    skip_corrupt_files=True)
    assert list(unreadable) == []
    for call in (lambda: small_model.fit(unreadable, epochs=1, verbose=0),
                 lambda: small_model.evaluate(unreadable, verbose=0)):
        with pytest.raises(graft.GraftError, match="no image of the (training|evaluation) dataset could be read") as error:
            call()
        assert error.value.status == Status.FORMAT
    assert np.isfinite(small_model.evaluate(dataset, verbose=0)[0])


def test_names_that_are_not_utf8_are_refused(tmp_path: Path) -> None:
    # Keras refuses such a class folder; Graft once dropped it silently.
    root = tree(tmp_path / "classes", {"cats/a.png": PNG})
    os.mkdir(os.fsencode(root) + b"/caf\xe9")
    with pytest.raises(graft.GraftError, match=r"holds a folder whose name is not valid UTF-8 \(caf\\xe9\)") as error:
        graft.image_dataset_from_directory(root, verbose=False)
    assert error.value.status == Status.INVALID_ARGUMENT


def test_nan_pixels_reach_the_logits(small_model) -> None:
    # TensorFlow's ReLU keeps NaN; Graft's fused ReLU once turned it into 0.
    images = np.full((2, 32, 32, 3), 128.0, np.float32)
    images[0, 4, 4, 0] = np.nan
    logits = small_model.predict(images)
    assert np.isnan(logits[0]).all() and np.isfinite(logits[1]).all()
