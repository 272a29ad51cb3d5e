#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus into Tests/Fuzz/corpus/ (committed;
rerun after changing what the readers accept).

Usage: make_fuzz_corpus.py   (from the repository, with `make build` done:
the model seeds are cut from a file libgraft saves)

  image/    tiny JPEG (baseline, progressive, grey), PNG (RGB, palette with
            transparency, 16-bit, interlaced), GIF (two frames), BMP (24, 32
            and 8-bit) images, written with Pillow
  weights/  choices for the weight target, which writes the file itself
            (Tests/Fuzz/Weights): every part kept (the sound file), and a
            few mixes
  model/    a Graft model file cut down to its attributes and head (the
            loader reads all of it before it looks for the base's
            weights), in Graft's checksummed layout (HDF5 1.10's format,
            Fletcher-32 on the weights); the same model as a Keras 3 .keras
            archive, its weights file cut down to the head's; and
            head_only_format1.h5, a file of Graft's first format (before
            Keras's full-model layout), kept as written then

Seeds are small (a few KB; the model seeds about 150 KB, most of it the
ResNet config Keras files carry): libFuzzer grows the corpus from them.
"""

import io
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import h5py
import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "Tests" / "Fuzz" / "corpus"
sys.path.insert(0, str(REPO / "bindings" / "python"))


def images(out: Path) -> None:
    rng = np.random.default_rng(7)
    rgb = Image.fromarray(rng.integers(0, 256, (9, 13, 3), dtype=np.uint8))
    writes = {
        "baseline.jpg": lambda f: rgb.save(f, "JPEG", quality=80),
        "progressive.jpg": lambda f: rgb.save(f, "JPEG", quality=80, progressive=True),
        "grey.jpg": lambda f: rgb.convert("L").save(f, "JPEG"),
        "rgb.png": lambda f: rgb.save(f, "PNG"),
        "palette_trns.png": lambda f: rgb.convert("P", palette=Image.ADAPTIVE, colors=8).save(
            f, "PNG", transparency=3),
        "rgb16.png": lambda f: Image.fromarray(rng.integers(0, 65536, (5, 7), dtype=np.uint16)).save(f, "PNG"),
        "interlaced.png": lambda f: rgb.save(f, "PNG", interlace=1),
        "two_frames.gif": lambda f: rgb.convert("P").save(
            f, "GIF", save_all=True, append_images=[rgb.rotate(90, expand=True).convert("P")]),
        "rgb24.bmp": lambda f: rgb.save(f, "BMP"),
        "rgba32.bmp": lambda f: rgb.convert("RGBA").save(f, "BMP"),
        "grey8.bmp": lambda f: rgb.convert("L").save(f, "BMP"),
    }
    for name, write in writes.items():
        buffer = io.BytesIO()
        write(buffer)
        (out / name).write_bytes(buffer.getvalue())


def weights(out: Path) -> None:
    # Bytes of 7 choose "keep" at every choice; the others mix choices.
    rng = np.random.default_rng(8)
    (out / "keep_all").write_bytes(bytes([7]) * 512)
    for i in range(3):
        (out / f"mixed_{i}").write_bytes(rng.integers(0, 256, 512, dtype=np.uint8).tobytes())


def model(out: Path) -> None:
    import graft
    base = graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3), threads=1)
    transfer = graft.TransferModel(base, num_classes=3, hidden_units=[4], seed=1)
    transfer.compile(optimizer=graft.optimizers.Adam())
    with tempfile.TemporaryDirectory() as folder:
        saved = Path(folder) / "model.h5"
        transfer.save(str(saved))
        with h5py.File(saved, "r") as src, h5py.File(out / "head_only.h5", "w", libver="v110") as dst:
            for key, value in src.attrs.items():
                dst.attrs[key] = value
            src.copy("graft", dst)
            weights = dst.create_group("model_weights")
            for key, value in src["model_weights"].attrs.items():
                weights.attrs[key] = value
            for layer in ("dense", "dense_1"):
                src.copy(f"model_weights/{layer}", weights)
        archive = Path(folder) / "model.keras"
        transfer.save(str(archive))
        head = Path(folder) / "head.weights.h5"
        with zipfile.ZipFile(archive) as src:
            with h5py.File(io.BytesIO(src.read("model.weights.h5")), "r") as weights, h5py.File(head, "w") as dst:
                for layer in ("dense", "dense_1"):
                    weights.copy(f"layers/{layer}", dst, name=f"layers/{layer}")
            with zipfile.ZipFile(out / "head_only.keras", "w") as dst_archive:
                for name in ("metadata.json", "config.json"):
                    dst_archive.writestr(name, src.read(name))
                dst_archive.write(head, "model.weights.h5")


def main() -> None:
    for name, write in [("image", images), ("weights", weights), ("model", model)]:
        folder = CORPUS / name
        kept = {p.name: p.read_bytes() for p in folder.glob("*_format1.*")}
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for kept_name, data in kept.items():
            (folder / kept_name).write_bytes(data)
        write(folder)
        print(folder, sorted(p.name for p in folder.iterdir()))


if __name__ == "__main__":
    main()
