#!/usr/bin/env python3
"""Build Graft's reference fixtures with Keras itself.

Usage: .venv/bin/python tools/make_fixtures.py [OUTDIR]   (default: .fixtures/model)

Writes into OUTDIR (see manifest.txt and STAMP there):
  resnet50_random.h5      ResNet50 notop, every weight random, Keras 3 legacy HDF5
                          writer (weight names without ":0", vlen strings)
  resnet50_random_tf.h5   the same weights in the Keras 2 / ImageNet-file layout
                          (weight names with ":0", fixed-length byte strings)
  resnet50_random_top.h5  ResNet50 with a 10-class top, base weights from above
  resnet101_random.h5     ResNet101 notop (a file of the wrong architecture)
  resnet50_bad_shape.h5   resnet50_random.h5 with conv2_block1_2_conv's kernel
                          of shape (3, 3, 64, 32) instead of (3, 3, 64, 64)
  resnet{50,101,152}_layers.txt  model.layers names, in order (also copied to
                          Tests/Fixtures/ of the repo, where they are committed)
  raw_/pre_/out_<h>x<w>.f32  golden inputs and outputs of resnet50_random.h5,
                          raw little-endian float32, shapes in manifest.txt
  STAMP                   written last: tensorflow and keras versions

Everything is seeded, so a rerun reproduces the same weights and inputs (the
outputs may differ in the last bits if oneDNN picks other kernels).
The directory is built under a temporary name and renamed at the end, so a
failed run never leaves a half-written OUTDIR behind.
"""

import os
import shutil
import sys
import time
from pathlib import Path

# Quiet TensorFlow's C++ start-up chatter; must be set before it is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import h5py  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras.src.legacy.saving import legacy_h5_format  # noqa: E402

from fixture_dir import build_into  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
COMMITTED_FIXTURES = REPO / "Tests" / "Fixtures"

KERNEL_SEED = 1234  # Keras's own glorot init of the conv kernels
PARAM_SEED = 5678  # our numpy draws for biases and BatchNorm
IMAGE_SEED = 42

GOLDEN_SIZES = [(100, 100), (72, 120), (32, 32)]  # (height, width)
GOLDEN_BATCH = 3

# Written into the ":0" file: the layout mimics files saved by Keras 2.
KERAS2_VERSION = b"2.2.4"


def fresh_model(constructor, **kwargs):
    """Build a Keras application model from a clean, seeded state.

    Clearing the session restarts Keras's automatic names, so every model's
    input layer is called "input_layer" as in a fresh process; reseeding makes
    each model's glorot kernels independent of what was built before it.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(KERNEL_SEED)
    return constructor(weights=None, **kwargs)


def randomise_biases_and_bn(model, rng):
    """Replace the zero biases and identity BatchNorm of weights=None.

    With zero biases and gamma=1, beta=0, mean=0, var=1, a loader that swaps or
    drops those arrays still produces the right output; random values make
    every array matter.
    """
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            kernel, bias = layer.get_weights()
            bias = rng.uniform(-0.2, 0.2, bias.shape)
            layer.set_weights([kernel, bias.astype(np.float32)])
        elif isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.gamma.shape
            gamma = rng.uniform(0.5, 1.5, shape)
            beta = rng.uniform(-0.2, 0.2, shape)
            mean = rng.uniform(-0.2, 0.2, shape)
            variance = rng.uniform(0.5, 1.5, shape)
            layer.set_weights([a.astype(np.float32) for a in (gamma, beta, mean, variance)])


def save_legacy_h5(model, path):
    """Keras 3's writer of the legacy layout (its save_weights refuses .h5)."""
    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def fixed_strings(strings):
    """Fixed-length byte strings (numpy |S<n>), as Keras 2 wrote attributes."""
    return np.array([s.encode("utf8") for s in strings])


def rewrite_as_keras2(src_path, dst_path):
    """Copy a Keras 3 legacy file into the layout of Keras 2's files.

    Differences from Keras 3's writer: weight names carry the TensorFlow
    variable suffix ":0" (so datasets sit at /<layer>/<layer>/kernel:0), string
    attributes are fixed-length bytes instead of variable-length str, and there
    is no top_level_model_weights group (older Keras never wrote one).
    """
    with h5py.File(src_path, "r") as src, h5py.File(dst_path, "w") as dst:
        layer_names = [n for n in src.attrs["layer_names"]]
        dst.attrs["layer_names"] = fixed_strings(layer_names)
        dst.attrs["backend"] = np.bytes_(b"tensorflow")
        dst.attrs["keras_version"] = np.bytes_(KERAS2_VERSION)
        for layer_name in layer_names:
            src_group = src[layer_name]
            dst_group = dst.create_group(layer_name)
            weight_names = list(src_group.attrs["weight_names"])
            if not weight_names:
                # h5py stores an empty list as a float64 array of shape (0,),
                # which is exactly what Keras 2 left in these files.
                dst_group.attrs["weight_names"] = np.array([])
                continue
            new_names = [name + ":0" for name in weight_names]
            dst_group.attrs["weight_names"] = fixed_strings(new_names)
            for old, new in zip(weight_names, new_names):
                dst_group.create_dataset(new, data=src_group[old][()])


def write_bad_shape(src_path, dst_path):
    """A copy of src_path in which one kernel has half its output channels."""
    shutil.copyfile(src_path, dst_path)
    with h5py.File(dst_path, "r+") as f:
        group = f["conv2_block1_2_conv"]["conv2_block1_2_conv"]
        kernel = group["kernel"][()]
        del group["kernel"]
        group.create_dataset("kernel", data=kernel[..., :32])


def synthetic_images(rng, count, height, width):
    """Image-like RGB pictures with integer values 0..255 (as float32).

    Smooth gradients and soft blobs give the network spatial structure like a
    photo's; noise adds high frequencies. Integers keep the values exact in any
    format a test might re-encode them in.
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    y /= max(height - 1, 1)
    x /= max(width - 1, 1)
    images = np.empty((count, height, width, 3))
    for image in images:
        base = rng.uniform(30, 200, 3)
        slope_y = rng.uniform(-80, 80, 3)
        slope_x = rng.uniform(-80, 80, 3)
        image[:] = base + slope_y * y[..., None] + slope_x * x[..., None]
        for _ in range(rng.integers(2, 6)):
            cy, cx = rng.uniform(0, 1, 2)
            radius = rng.uniform(0.08, 0.35)
            blob = np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * radius**2))
            image += blob[..., None] * rng.uniform(-120, 120, 3)
        image += rng.normal(0, 10, image.shape)
    return np.clip(np.rint(images), 0, 255).astype(np.float32)


def write_f32(directory, name, array, manifest):
    """Raw little-endian float32, C order; its shape goes into the manifest."""
    np.ascontiguousarray(array, dtype="<f4").tofile(directory / name)
    manifest.append(" ".join([name] + [str(d) for d in array.shape]))


def write_layer_list(model, directory, name):
    (directory / name).write_text("".join(layer.name + "\n" for layer in model.layers))


def build_fixtures(out):
    timer = time.perf_counter()
    manifest = []

    # 1. ResNet50 notop with every array random.
    model = fresh_model(keras.applications.ResNet50, include_top=False, input_shape=(None, None, 3))
    randomise_biases_and_bn(model, np.random.default_rng(PARAM_SEED))
    save_legacy_h5(model, out / "resnet50_random.h5")
    write_layer_list(model, out, "resnet50_layers.txt")
    base_weights = {layer.name: layer.get_weights() for layer in model.layers if layer.weights}

    # 2. The same weights in the Keras 2 layout.
    rewrite_as_keras2(out / "resnet50_random.h5", out / "resnet50_random_tf.h5")

    # 6. Golden data, computed now while model 1 is at hand.
    image_rng = np.random.default_rng(IMAGE_SEED)
    golden_100 = None
    for height, width in GOLDEN_SIZES:
        tag = f"{height}x{width}"
        raw = synthetic_images(image_rng, GOLDEN_BATCH, height, width)
        pre = keras.applications.resnet.preprocess_input(raw.copy())
        outputs = model(pre, training=False).numpy()
        write_f32(out, f"raw_{tag}.f32", raw, manifest)
        write_f32(out, f"pre_{tag}.f32", pre, manifest)
        write_f32(out, f"out_{tag}.f32", outputs, manifest)
        print(f"golden {tag}: out {outputs.shape}, max|out| = {np.abs(outputs).max():.4g}")
        if (height, width) == (100, 100):
            golden_100 = (pre, outputs)

    # 3. A model with a classification top on the same base weights.
    top = fresh_model(keras.applications.ResNet50, include_top=True, classes=10, input_shape=(64, 64, 3))
    copied = 0
    for layer in top.layers:
        if layer.name in base_weights:
            layer.set_weights(base_weights[layer.name])
            copied += 1
    if copied != len(base_weights):
        raise RuntimeError(f"copied {copied} of {len(base_weights)} base layers into the top model")
    save_legacy_h5(top, out / "resnet50_random_top.h5")

    # 4. Another architecture, randomised the same way.
    resnet101 = fresh_model(keras.applications.ResNet101, include_top=False, input_shape=(None, None, 3))
    randomise_biases_and_bn(resnet101, np.random.default_rng(PARAM_SEED + 1))
    save_legacy_h5(resnet101, out / "resnet101_random.h5")
    write_layer_list(resnet101, out, "resnet101_layers.txt")

    # A file whose one wrong shape a loader must name.
    write_bad_shape(out / "resnet50_random.h5", out / "resnet50_bad_shape.h5")

    # 5. ResNet152 is only needed for its layer names.
    resnet152 = fresh_model(keras.applications.ResNet152, include_top=False, input_shape=(None, None, 3))
    write_layer_list(resnet152, out, "resnet152_layers.txt")

    (out / "manifest.txt").write_text("".join(line + "\n" for line in manifest))
    verify(out, golden_100)

    (out / "STAMP").write_text(f"tensorflow {tf.__version__}\nkeras {keras.__version__}\n")
    print(f"fixtures built in {time.perf_counter() - timer:.1f} s")


def verify(out, golden_100):
    """Check the Keras 2 layout file against the golden output, and show that
    the two files really store their strings differently."""
    pre, expected = golden_100
    model = fresh_model(keras.applications.ResNet50, include_top=False, input_shape=(None, None, 3))
    model.load_weights(out / "resnet50_random_tf.h5")
    got = model(pre, training=False).numpy()
    error = np.abs(got - expected).max()
    print(f"resnet50_random_tf.h5 reloaded: max abs diff to out_100x100 = {error:.3g}")
    if error > 1e-5 * np.abs(expected).max():
        raise RuntimeError("the ':0' file does not reproduce the golden output")

    for name in ("resnet50_random.h5", "resnet50_random_tf.h5"):
        with h5py.File(out / name, "r") as f:
            names = f.attrs["layer_names"]
            print(f"{name}: layer_names dtype {names.dtype} "
                  f"(h5py string info: {h5py.check_string_dtype(names.dtype)}), first {names[0]!r}")


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".fixtures/model").resolve()
    build_into(out, build_fixtures)

    # The small layer lists are committed with the tests.
    COMMITTED_FIXTURES.mkdir(parents=True, exist_ok=True)
    if COMMITTED_FIXTURES != out:
        for name in ("resnet50_layers.txt", "resnet101_layers.txt", "resnet152_layers.txt"):
            shutil.copyfile(out / name, COMMITTED_FIXTURES / name)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
