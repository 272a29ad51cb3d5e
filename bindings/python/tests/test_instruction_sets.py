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
