"""color_mode "grayscale" and "rgba" against TensorFlow's decode_image and
Keras's image_dataset_from_directory, live: every PNG, JPEG, BMP and GIF
layout decoded to the same bytes, the same files refused, and the resize
methods on one channel and four."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import graft

# Keras is the reference, installed into .venv by `make test`: no skipping.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
HEIGHT, WIDTH = 13, 17


def layouts() -> dict[str, bytes]:
    """One small file of each layout the decoders tell apart, by name."""
    rng = np.random.default_rng(11)
    rgba = rng.integers(0, 256, (HEIGHT, WIDTH, 4), dtype=np.uint8)
    rgb = Image.fromarray(rgba[..., :3])
    images = {
        "png_rgb": (rgb, "PNG", {}),
        "png_rgba": (Image.fromarray(rgba), "PNG", {}),
        "png_gray": (rgb.convert("L"), "PNG", {}),
        "png_gray_alpha": (Image.fromarray(rgba).convert("LA"), "PNG", {}),
        "png_palette": (rgb.quantize(16), "PNG", {}),
        "png_palette_trns": (rgb.quantize(16), "PNG", {"transparency": 3}),
        "png_gray16": (Image.fromarray((rgba[..., 0].astype(np.uint16) * 257)), "PNG", {}),
        "png_1bit": (rgb.convert("1"), "PNG", {}),
        "jpeg_rgb": (rgb, "JPEG", {"quality": 90}),
        "jpeg_gray": (rgb.convert("L"), "JPEG", {"quality": 90}),
        "jpeg_cmyk": (rgb.convert("CMYK"), "JPEG", {"quality": 90}),
        "bmp_rgb": (rgb, "BMP", {}),
        "bmp_gray": (rgb.convert("L"), "BMP", {}),
        "bmp_rgba": (Image.fromarray(rgba), "BMP", {}),
        "gif": (rgb.quantize(16), "GIF", {}),
    }
    out = {}
    for name, (image, kind, arguments) in images.items():
        buffer = io.BytesIO()
        image.save(buffer, kind, **arguments)
        out[name] = buffer.getvalue()
    return out


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each layout alone in a folder of one class."""
    root = tmp_path_factory.mktemp("layouts")
    paths = {}
    for name, data in layouts().items():
        folder = root / name / "only"
        folder.mkdir(parents=True)
        extension = {"png": "png", "jpeg": "jpg", "bmp": "bmp", "gif": "gif"}[name.split("_")[0]]
        (folder / f"image.{extension}").write_bytes(data)
        paths[name] = root / name
    return paths


@pytest.mark.parametrize("color_mode", ["grayscale", "rgb", "rgba"])
@pytest.mark.parametrize("layout", list(layouts()))
def test_decoded_as_tensorflow_decodes(files: dict[str, Path], layout: str, color_mode: str) -> None:
    """At the image's own size (the resize copies), the pixels are
    decode_image's exactly, or both refuse the file."""
    data = next(files[layout].rglob("image.*")).read_bytes()
    try:
        expected = tf.io.decode_image(data, channels=CHANNELS[color_mode], expand_animations=False).numpy()
    except tf.errors.InvalidArgumentError as error:
        expected = error
    dataset = graft.image_dataset_from_directory(files[layout], color_mode=color_mode, image_size=(HEIGHT, WIDTH),
                                                 verbose=False)
    assert dataset.channels == CHANNELS[color_mode]
    if isinstance(expected, Exception):
        with pytest.raises(graft.GraftError):
            next(iter(dataset))
        return
    images, _ = next(iter(dataset))
    assert images.shape == (1, HEIGHT, WIDTH, CHANNELS[color_mode])
    np.testing.assert_array_equal(images[0], expected.astype(np.float32))


@pytest.mark.parametrize("interpolation", ["bilinear", "nearest", "area", "bicubic", "lanczos3", "lanczos5",
                                           "gaussian", "mitchellcubic"])
@pytest.mark.parametrize("color_mode, layouts_used", [("grayscale", ["png_rgb", "jpeg_rgb", "png_gray16"]),
                                                      ("rgba", ["png_rgba", "png_palette_trns", "bmp_rgb"])])
def test_resized_as_keras_resizes(files: dict[str, Path], tmp_path: Path, interpolation: str, color_mode: str,
                                  layouts_used: list[str]) -> None:
    """One and four channels through every resize method, padded: Keras's
    float32 pixels within the 1e-3 of RGB's."""
    for name in layouts_used:
        target = tmp_path / "tree" / name
        target.mkdir(parents=True)
        source = next(files[name].rglob("image.*"))
        (target / source.name).write_bytes(source.read_bytes())
    arguments = {"image_size": (9, 29), "color_mode": color_mode, "interpolation": interpolation,
                 "pad_to_aspect_ratio": True, "shuffle": False}
    ours = graft.image_dataset_from_directory(tmp_path / "tree", verbose=False, **arguments)
    theirs = keras.utils.image_dataset_from_directory(tmp_path / "tree", verbose=False, **arguments)
    (images, labels), (keras_images, keras_labels) = next(iter(ours)), next(iter(theirs))
    assert images.shape == tuple(keras_images.shape) == (3, 9, 29, CHANNELS[color_mode])
    np.testing.assert_array_equal(labels, keras_labels.numpy())
    np.testing.assert_allclose(images, keras_images.numpy(), rtol=0, atol=1e-3)


def test_models_take_rgb_only(files: dict[str, Path]) -> None:
    gray = graft.image_dataset_from_directory(files["png_gray"], color_mode="grayscale", image_size=(32, 32),
                                              verbose=False)
    base = graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3), threads=2)
    model = graft.TransferModel(base, num_classes=2)
    model.compile("adam")
    with pytest.raises(ValueError, match='color_mode="rgb"'):
        model.evaluate(gray, verbose=0)
    model.close()
