#!/usr/bin/env python3
"""Writes a small image-folder dataset of simple shapes, for the examples,
`make demo` and the tests: nothing is downloaded.

    python tools/make_demo_dataset.py OUTDIR [--classes 3] [--train 80]
        [--test 20] [--size 100] [--seed 0]

OUTDIR receives the layout that image_dataset_from_directory reads, one
sub-folder per class:

    OUTDIR/train/circle/circle_0000.png ...   --train images per class
    OUTDIR/test/circle/circle_0000.png ...    --test images per class
    OUTDIR/STAMP                              written last: the arguments

The classes are shapes (circle, square, triangle, cross, ring, star; the first
--classes of them) of a random colour, size, position and rotation, on a random
two-colour gradient with noise and a few distracting dots: a classifier has to
learn the shape, not a colour. The same arguments give the same files, byte for
byte. PNG files are written here (zlib and struct); needs numpy only.

OUTDIR is replaced as a whole, so it must be absent, empty, or an earlier
output of this script (it holds its STAMP); anything else is refused.
"""

from __future__ import annotations

import argparse
import math
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fixture_dir import build_into  # noqa: E402

CLASSES = ("circle", "square", "triangle", "cross", "ring", "star")
STAMP_HEADER = "make_demo_dataset"


def write_png(path: Path, rgb: np.ndarray) -> None:
    """An 8-bit RGB PNG of `rgb` (height, width, 3) uint8: one IDAT, no filter."""
    height, width, _ = rgb.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), rgb.reshape(height, width * 3)], axis=1)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(rows.tobytes(), 6)) + chunk(b"IEND", b""))


def shape_mask(kind: str, u: np.ndarray, v: np.ndarray, radius: float) -> np.ndarray:
    """Pixels inside shape `kind` of size `radius`, in coordinates (u, v)
    centred on the shape and already rotated."""
    if kind == "circle":
        return u * u + v * v < radius * radius
    if kind == "square":
        side = radius * 0.85
        return (np.abs(u) < side) & (np.abs(v) < side)
    if kind == "triangle":
        # Equilateral, centred: inside the three edges' half-planes.
        inside = np.ones(u.shape, bool)
        for k in range(3):
            angle = math.pi / 2 + 2 * math.pi * k / 3
            inside &= u * math.cos(angle) + v * math.sin(angle) < radius * 0.5
        return inside
    if kind == "cross":
        arm = radius * 0.3
        return ((np.abs(u) < arm) & (np.abs(v) < radius)) | ((np.abs(v) < arm) & (np.abs(u) < radius))
    if kind == "ring":
        d2 = u * u + v * v
        return (d2 < radius * radius) & (d2 > (radius * 0.55) ** 2)
    if kind == "star":
        # Five points: the radius swings between 0.45 and 1 with the angle.
        angle = np.arctan2(v, u)
        edge = radius * (0.45 + 0.55 * np.abs(np.cos(2.5 * angle)) ** 3)
        return u * u + v * v < edge * edge
    raise ValueError(kind)


def draw(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One picture of class `kind`: uint8 (size, size, 3)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5

    # Background: a gradient between two random colours in a random direction.
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    direction = rng.uniform(0, 2 * math.pi)
    t = ((x * math.cos(direction) + y * math.sin(direction)) / size + 1) / 2
    image = c0 + (c1 - c0) * np.clip(t, 0, 1)[..., None]

    # The shape: random size, position (kept inside) and rotation; a colour
    # far enough from the background's to be seen.
    radius = size * rng.uniform(0.2, 0.34)
    cx, cy = rng.uniform(radius, size - radius, 2)
    theta = rng.uniform(0, 2 * math.pi)
    u = (x - cx) * math.cos(theta) + (y - cy) * math.sin(theta)
    v = -(x - cx) * math.sin(theta) + (y - cy) * math.cos(theta)
    background = (c0 + c1) / 2
    colour = rng.uniform(0, 255, 3)
    for _ in range(20):
        if np.abs(colour - background).sum() > 150:
            break
        colour = rng.uniform(0, 255, 3)
    image[shape_mask(kind, u, v, radius)] = colour

    # Distractors: a few small dots of random colours anywhere.
    for _ in range(rng.integers(2, 6)):
        dx, dy = rng.uniform(0, size, 2)
        r = size * rng.uniform(0.02, 0.05)
        image[(x - dx) ** 2 + (y - dy) ** 2 < r * r] = rng.uniform(0, 255, 3)

    image += rng.normal(0, 12, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def generate(out: Path, classes: int, train: int, test: int, size: int, seed: int) -> int:
    """Writes the dataset into the empty folder `out`; returns the image count."""
    # One generator per split and class, so that changing --test leaves the
    # training images as they were.
    count = 0
    for split_index, (split, per_class) in enumerate((("train", train), ("test", test))):
        for class_index, kind in enumerate(CLASSES[:classes]):
            folder = out / split / kind
            folder.mkdir(parents=True)
            rng = np.random.default_rng([seed, split_index, class_index])
            for i in range(per_class):
                write_png(folder / f"{kind}_{i:04d}.png", draw(kind, size, rng))
                count += 1
    arguments = f"classes {classes}\ntrain {train}\ntest {test}\nsize {size}\nseed {seed}\n"
    (out / "STAMP").write_text(f"{STAMP_HEADER}\n{arguments}")  # written last
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path, help="folder to write (replaced as a whole)")
    parser.add_argument("--classes", type=int, default=3,
                        help=f"number of classes, 2 to {len(CLASSES)} (default 3)")
    parser.add_argument("--train", type=int, default=80, help="training images per class (default 80)")
    parser.add_argument("--test", type=int, default=20, help="test images per class (default 20)")
    parser.add_argument("--size", type=int, default=100, help="image height and width (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args()
    if not 2 <= args.classes <= len(CLASSES):
        parser.error(f"--classes must be between 2 and {len(CLASSES)}")
    if args.train < 1 or args.test < 1:
        parser.error("--train and --test must be at least 1")
    if args.size < 8:
        parser.error("--size must be at least 8")
    if args.seed < 0:
        parser.error("--seed must not be negative")

    out: Path = args.outdir
    if out.exists():
        stamp = out / "STAMP"
        ours = stamp.is_file() and stamp.read_text().startswith(STAMP_HEADER)
        if not out.is_dir() or (any(out.iterdir()) and not ours):
            sys.exit(f"{out} exists and was not written by this script: choose another folder")

    counts = {}
    build_into(out, lambda folder: counts.update(n=generate(folder, args.classes, args.train, args.test,
                                                            args.size, args.seed)))
    names = ", ".join(CLASSES[:args.classes])
    print(f"{out}: {counts['n']} images of {args.size}x{args.size} ({names}; "
          f"{args.train} training and {args.test} test images per class)")


if __name__ == "__main__":
    main()
