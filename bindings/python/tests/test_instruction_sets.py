"""The AVX2 and AVX-512 kernel paths (GRAFT_ISA, chosen once per process)
compute the base's features bit for bit alike: their GEMMs sum every
product in the same order, and Winograd's transforms do the same
operations at either width. Each path runs in its own process."""

import os
import subprocess
import sys

import numpy as np

import graft

# The child processes import the same graft package as this one.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(graft.__file__)))

SCRIPT = """
import sys, numpy as np, graft
model = graft.applications.ResNet50(weights=sys.argv[1], input_shape=(72, 120, 3), threads=2)
pixels = np.random.default_rng(0).uniform(0, 255, (3, 72, 120, 3)).astype(np.float32)
np.save(sys.argv[2], model.features_from_images(pixels))
"""


def test_avx2_and_avx512_features_are_identical(fixtures, tmp_path):
    features = []
    for isa in ("avx512", "avx2"):
        path = tmp_path / f"{isa}.npy"
        subprocess.run([sys.executable, "-c", SCRIPT, str(fixtures.path("resnet50_random.h5")), str(path)],
                       env={**os.environ, "GRAFT_ISA": isa, "PYTHONPATH": PACKAGE_PARENT}, check=True)
        features.append(np.load(path))
    np.testing.assert_array_equal(features[0], features[1])


AUGMENT = """
import sys, numpy as np, graft
rng = np.random.default_rng(1)
# Odd sizes (a row's last pixels past its 16-pixel groups), large factors
# (pixels beyond every edge), each fill mode and interpolation.
images = rng.uniform(0, 255, (4, 37, 53, 3)).astype(np.float32)
out = {}
for fill in ("reflect", "wrap", "constant", "nearest"):
    for interpolation in ("bilinear", "nearest"):
        rotate = graft.layers.RandomRotation(0.4, fill_mode=fill, interpolation=interpolation, seed=3, fill_value=7.0)
        zoom = graft.layers.RandomZoom((-0.6, 0.6), fill_mode=fill, interpolation=interpolation, seed=4)
        out[fill + interpolation] = zoom(rotate(images, training=True), training=True)
np.savez(sys.argv[1], **out)
"""


def test_every_path_augments_alike(tmp_path):
    """The sampler's 16-pixel AVX-512 and 8-pixel AVX2 paths (bilinear RGB)
    give the scalar baseline's bits, in every fill mode."""
    results = []
    for isa in ("avx512", "avx2", "baseline"):
        path = tmp_path / f"{isa}.npz"
        subprocess.run([sys.executable, "-c", AUGMENT, str(path)],
                       env={**os.environ, "GRAFT_ISA": isa, "PYTHONPATH": PACKAGE_PARENT}, check=True)
        results.append(np.load(path))
    for other in results[1:]:
        assert results[0].files == other.files
        for name in results[0].files:
            np.testing.assert_array_equal(results[0][name], other[name], err_msg=name)
