#!/usr/bin/env python3
"""Write a folder of synthetic JPEG photos for the data-pipeline benchmark.

Usage: .venv/bin/python bench/make_images.py OUTDIR --count N --size HxW [--classes 4]

Smooth gradients, blobs and noise (like photos, for the JPEG encoder), one
sub-folder per class, quality 90. Deterministic; skipped when OUTDIR/STAMP
says the same thing was already written.
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--size", required=True, help="HxW")
    parser.add_argument("--classes", type=int, default=4)
    args = parser.parse_args()
    out = Path(args.out)
    stamp = f"{args.count} {args.size} {args.classes}\n"
    if (out / "STAMP").is_file() and (out / "STAMP").read_text() == stamp:
        return

    import numpy as np
    import tensorflow as tf

    height, width = (int(v) for v in args.size.split("x"))
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    for i in range(args.count):
        folder = out / f"class_{i % args.classes}"
        folder.mkdir(parents=True, exist_ok=True)
        image = rng.uniform(40, 200, 3) + rng.uniform(-90, 90, 3) * y[..., None] + rng.uniform(-90, 90, 3) * x[..., None]
        cy, cx = rng.uniform(0, 1, 2)
        image += 80 * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / 0.02)[..., None]
        image += rng.normal(0, 6, image.shape)
        pixels = np.clip(image, 0, 255).astype(np.uint8)
        (folder / f"img_{i:05d}.jpg").write_bytes(tf.io.encode_jpeg(pixels, quality=90).numpy())
    (out / "STAMP").write_text(stamp)


if __name__ == "__main__":
    main()
