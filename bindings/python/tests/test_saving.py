"""model.save, graft.load_model and model.class_names."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

import graft
from graft.errors import Status


def test_save_and_load_round_trip(small_model, colours, tmp_path) -> None:
    x, y = colours(24, 1)
    small_model.class_names = ["red", "green", "blue"]
    small_model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    path = tmp_path / "model.h5"
    small_model.save(path)

    loaded = graft.load_model(path, threads=2)
    assert isinstance(loaded, graft.TransferModel) and loaded.num_classes == 3
    np.testing.assert_array_equal(loaded.predict(x), small_model.predict(x))  # bit-identical
    assert loaded.base.precision == "float32"
    with pytest.raises(ValueError, match="precision"):
        graft.load_model(path, precision="float16")
    assert loaded.class_names == ["red", "green", "blue"]
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in small_model.layers]
    assert loaded.base.name == "resnet50" and loaded.base.input_shape == (None, 32, 32, 3)
    assert loaded.base.preprocessing == small_model.base.preprocessing == "caffe"
    assert len(loaded.base.layers) == 175 and not loaded.base.trainable and loaded.layers[-1].trainable
    np.testing.assert_array_equal(loaded.base.get_layer("conv1_conv").get_weights()[0],
                                  small_model.base.get_layer("conv1_conv").get_weights()[0])

    # It was compiled: it trains on; freezing and unfreezing work as on a built model.
    before = loaded.layers[-1].get_weights()[0]
    assert loaded.fit(x, y, batch_size=8, epochs=1, verbose=0).epoch == [0]
    assert not np.array_equal(before, loaded.layers[-1].get_weights()[0])
    loaded.base.trainable = True
    for layer in loaded.base.layers[:-10]:
        layer.trainable = False
    assert [layer.trainable for layer in loaded.base.layers[-11:]] == [False] + [True] * 10
    loaded.compile(optimizer=graft.optimizers.SGD(learning_rate=1e-4))
    loaded.fit(x, y, batch_size=8, epochs=1, verbose=0)
    printed = []
    loaded.summary(print_fn=printed.append)
    assert "conv5_block3_out" in printed[0]
    loaded.close()


def test_save_refuses_to_overwrite_when_asked(small_model, tmp_path) -> None:
    path = tmp_path / "model.h5"
    path.write_bytes(b"previous")
    with pytest.raises(FileExistsError):
        small_model.save(path, overwrite=False)
    assert path.read_bytes() == b"previous"
    small_model.save(str(path))
    assert path.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"


def test_failed_save_and_bad_files(small_model, colours, tmp_path, fixtures) -> None:
    with pytest.raises(graft.GraftError) as error:
        small_model.save(tmp_path / "no_such_folder" / "model.h5")
    assert error.value.status == Status.IO
    with pytest.raises(graft.GraftError) as error:
        graft.load_model(tmp_path / "missing.h5")
    assert error.value.status == Status.IO
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(graft.GraftError) as error:
        graft.load_model(corrupt)
    assert error.value.status == Status.FORMAT
    with pytest.raises(graft.GraftError, match="not a Graft model") as error:
        graft.load_model(fixtures.path("resnet50_random.h5"))  # a Keras weight file
    assert error.value.status == Status.FORMAT
    with pytest.raises(ValueError, match="threads"):
        graft.load_model(corrupt, threads=-1)
    x, _ = colours(3, 1)
    assert small_model.predict(x).shape == (3, 3)  # still usable


def test_class_names(small_model, colours) -> None:
    assert small_model.class_names is None
    small_model.class_names = ("cat", "dog", "été")
    assert small_model.class_names == ["cat", "dog", "été"]
    with pytest.raises(ValueError, match="3 classes"):
        small_model.class_names = ["a", "b"]
    with pytest.raises(TypeError):
        small_model.class_names = None
    with pytest.raises(TypeError):
        small_model.class_names = "abc"
    assert small_model.class_names == ["cat", "dog", "été"]


def write_bmp(path, image: np.ndarray) -> None:
    """A 24-bit BMP of an RGB uint8 image (rows bottom-up, BGR, padded to 4 bytes)."""
    height, width, _ = image.shape
    row = (width * 3 + 3) & ~3
    pixels = np.zeros((height, row), np.uint8)
    pixels[:, :width * 3] = image[::-1, :, ::-1].reshape(height, width * 3)
    header = b"BM" + (54 + pixels.size).to_bytes(4, "little") + bytes(4) + (54).to_bytes(4, "little")
    info = ((40).to_bytes(4, "little") + width.to_bytes(4, "little") + height.to_bytes(4, "little")
            + (1).to_bytes(2, "little") + (24).to_bytes(2, "little") + bytes(4)
            + pixels.size.to_bytes(4, "little") + bytes(16))
    path.write_bytes(header + info + pixels.tobytes())


def test_fit_adopts_a_folders_class_names(small_model, colours, tmp_path) -> None:
    images, labels = colours(12, 4)
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = tmp_path / ["red", "green", "blue"][label]
        folder.mkdir(exist_ok=True)
        write_bmp(folder / f"{i}.bmp", image)
    train = graft.image_dataset_from_directory(tmp_path, image_size=(32, 32), batch_size=4, seed=1, verbose=False)
    # In-memory classes are numbered, not named: they set no names.
    small_model.fit(images, labels, batch_size=4, epochs=1, verbose=0)
    assert small_model.class_names is None
    small_model.fit(train, epochs=1, verbose=0)
    assert small_model.class_names == train.class_names == ["blue", "green", "red"]  # sorted, as Keras


def test_save_targets_and_damaged_files(small_model, colours, tmp_path) -> None:
    # A FIFO or a folder at the path is refused and left as it was (a rename
    # once replaced a FIFO, and as root a device, with a plain file).
    fifo = tmp_path / "pipe.h5"
    os.mkfifo(fifo)
    for target in (fifo, tmp_path):
        with pytest.raises(graft.GraftError, match="not a regular file; left untouched") as error:
            small_model.save(target)
        assert error.value.status == Status.IO
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    # Through a symbolic link: the file it points to is replaced, the link kept.
    real, link = tmp_path / "real.h5", tmp_path / "link.h5"
    real.write_bytes(b"old")
    link.symlink_to(real)
    small_model.save(link)
    assert link.is_symlink() and graft.load_model(real).num_classes == small_model.num_classes
    # A flipped bit in a weight is an error at load (Fletcher-32), naming it.
    images, _ = colours(2, 9)
    kernel = small_model.layers[-1].get_weights()[0]
    data = bytearray(real.read_bytes())
    at = bytes(data).find(kernel.astype(np.float32).tobytes()[:64])
    assert at > 0
    data[at + 3] ^= 0x40
    damaged = tmp_path / "damaged.h5"
    damaged.write_bytes(bytes(data))
    with pytest.raises(graft.GraftError, match="dense_?1?/kernel.*checksum") as error:
        graft.load_model(damaged)
    assert error.value.status == Status.FORMAT
    np.testing.assert_array_equal(graft.load_model(real).predict(images), small_model.predict(images))
