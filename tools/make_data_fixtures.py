#!/usr/bin/env python3
"""Build Graft's data-pipeline fixtures with Keras itself.

Usage: .venv/bin/python tools/make_data_fixtures.py [OUTDIR]   (default: .fixtures/data)

Writes into OUTDIR (the rules behind these files are in tools/DATA-FIXTURES.md):
  trees/<name>/        folder trees of tiny (2x2 RGB) image files, with the tricky
                       cases: case-differing, non-ASCII, NFC/NFD class and file
                       names, hidden folders and files, nested folders, mixed-case
                       extensions, non-image files that hold PNG bytes, an empty
                       class, files in the root, symlinks (tree "links" only)
  listing.json         what keras.utils.image_dataset_from_directory answered for
                       each tree and each configuration: class_names, file_paths
                       (relative to the tree root, Keras's order) and labels, or
                       the exception it raised
  randomstate.json     np.random.RandomState(seed).shuffle vectors
  resize.json          crop boxes and shapes of the resize vectors
  resize_manifest.txt  "<file> <h> <w> <c>" of every raw float32 file below
  resize/*.f32         inputs and outputs of Keras's bilinear resize (raw
                       little-endian float32, HWC), plain and crop_to_aspect_ratio
  STAMP                written last: tensorflow, keras and numpy versions

How labels are obtained: every dataset Keras returns is iterated once. Each image
file in a tree has unique pixels, and image_size=(2, 2) leaves 2x2 images
unchanged, so every (image, label) pair the dataset yields names its file. The
recorded labels are those the dataset yielded, put in `file_paths` order, and the
script asserts that they equal "index in class_names of the path's first
component" and that the multiset of yielded files equals `file_paths`. The one
exception is the tree "links" (it holds a broken symlink Keras lists but cannot
read): there the labels come from that rule and Keras's own
dataset_utils.index_directory, which the script checks against `file_paths`.

Everything is seeded; a rerun gives byte-identical JSON and .f32 files.
The directory is built under a temporary name and renamed at the end.
"""

import contextlib
import io
import json
import os
import shutil
import struct
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from fixture_dir import build_into  # noqa: E402
from keras.src.backend import tensorflow as tf_backend  # noqa: E402
from keras.src.utils import dataset_utils, image_utils  # noqa: E402

NFC_E = unicodedata.normalize("NFC", "\u00e9")  # "é" as one code point
NFD_E = unicodedata.normalize("NFD", "\u00e9")  # "e" + U+0301
assert NFC_E != NFD_E

SEEDS = [1, 42, 417, 123456789]
SPLITS = [(None, None)] + [(vs, sub) for vs in (0.2, 0.25, 0.5) for sub in ("training", "validation", "both")]

RS_SEEDS = [0, 1, 42, 417, 2**32 - 1, 123456789]
RS_SIZES = [1, 2, 3, 10, 21, 100, 1000, 70000]
CHECKSUM_MOD = 2**61 - 1

RESIZE_INPUTS = [(37, 23), (100, 100), (500, 375), (5, 7), (1, 1)]
RESIZE_TARGETS = [(100, 100), (64, 48), (224, 224), (3, 2), (333, 500)]
RESIZE_CHANNELS = 3

IMAGE_EXTS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


# --------------------------------------------------------------------------
# Tiny image encoders (tf has no BMP or GIF encoder).


def encode_bmp(pixels):
    """24-bit bottom-up BMP, rows padded to 4 bytes."""
    h, w, _ = pixels.shape
    row = w * 3
    pad = (4 - row % 4) % 4
    body = b"".join(pixels[y, :, ::-1].tobytes() + b"\0" * pad for y in range(h - 1, -1, -1))
    header = struct.pack("<2sIHHI", b"BM", 54 + len(body), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(body), 2835, 2835, 0, 0)
    return header + info + body


def encode_gif(pixels):
    """GIF89a of a 2x2 image, 4-entry palette = the 4 pixels, 3-bit LZW codes.

    A clear code after every two pixels keeps the code size at 3 bits.
    """
    h, w, _ = pixels.shape
    assert (h, w) == (2, 2)
    palette = pixels.reshape(4, 3).astype(np.uint8).tobytes()
    codes = [4, 0, 1, 4, 2, 3, 5]  # clear, p0, p1, clear, p2, p3, end
    bits = 0
    nbits = 0
    data = bytearray()
    for code in codes:
        bits |= code << nbits
        nbits += 3
        while nbits >= 8:
            data.append(bits & 0xFF)
            bits >>= 8
            nbits -= 8
    if nbits:
        data.append(bits & 0xFF)
    out = b"GIF89a" + struct.pack("<HHBBB", w, h, 0x91, 0, 0) + palette
    out += b"\x2c" + struct.pack("<HHHHB", 0, 0, w, h, 0) + b"\x02"
    out += bytes([len(data)]) + bytes(data) + b"\x00" + b"\x3b"
    return out


def encode_for_name(name, pixels):
    lower = name.lower()
    if lower.endswith(".txt"):
        return b"not an image\n"
    if lower.endswith((".jpg", ".jpeg")):
        return tf.io.encode_jpeg(pixels, quality=95).numpy()
    if lower.endswith(".bmp"):
        return encode_bmp(pixels)
    if lower.endswith(".gif"):
        return encode_gif(pixels)
    # .png and every other name (".jpgx", no extension, ...) get PNG bytes, so
    # that only the name can be the reason Keras skips them.
    return tf.io.encode_png(pixels).numpy()


# --------------------------------------------------------------------------
# Tree specifications: ("f", path) file (content from the name), ("d", path) empty
# directory, ("l", path, target) relative symlink.


def spec_tiny():
    return [
        ("f", "b/img_1.png"),
        ("f", "b/img_10.png"),
        ("f", "b/img_2.png"),
        ("f", "a/x.jpg"),
        ("f", "a/Y.JPG"),
        ("f", "a/z.png"),
        ("f", "a/w.gif"),
    ]


def spec_tricky():
    e = NFC_E
    d = NFD_E
    return [
        # files in the root: ignored with labels="inferred"
        ("f", "root.png"),
        ("f", "root.jpg"),
        ("f", "readme.txt"),
        ("f", "Zfile"),
        # hidden class folder: skipped
        ("f", ".hidden/h1.png"),
        ("f", ".hidden/h2.jpg"),
        # code-point, not natural, order
        ("f", "Apple/img_1.png"),
        ("f", "Apple/img_10.png"),
        ("f", "Apple/img_2.png"),
        ("f", "Apple/IMG_3.PNG"),
        # extensions
        ("f", "apple/a.Png"),
        ("f", "apple/b.jpeg"),
        ("f", "apple/c.JPEG"),
        ("f", "apple/d.txt"),
        ("f", "apple/e.jpgx"),
        ("f", "apple/noext"),
        ("f", "apple/jpg"),
        ("f", "apple/.hidden.png"),
        ("f", "apple/f.png.txt"),
        ("f", "apple/g.txt.png"),
        ("f", "apple/.jpg"),
        # nesting: sort of os.walk roots by the full path string
        ("f", "Banana/x.bmp"),
        ("f", "Banana/y.gif"),
        ("f", "Banana/z.BMP"),
        ("f", "Banana/sub/s1.png"),
        ("f", "Banana/sub/deeper/d1.png"),
        ("f", "Banana/sub-a/sa.png"),
        ("f", "Banana/sub.b/sb.png"),
        ("f", "Banana/sub0/s0.png"),
        ("f", "Banana/.hsub/h.png"),
        ("f", "Banana/dir.png/inner.png"),
        ("f", "Banana/Sub/S.png"),
        ("f", "_x/one.gif"),
        ("f", "b c/sp ace.png"),
        # NFC and NFD "é", side by side, as class names and as file names
        ("f", f"{e}/{e}.png"),
        ("f", f"{e}/{d}.png"),
        ("f", f"{e}/z.png"),
        ("f", f"{d}/{d}x.png"),
        ("f", "\u00fc/\u00fc.png"),
        ("f", "\u4e2d/\u56fe.png"),
        ("f", "\u4e2d/a.png"),
        # a class with no images at all (non-image files only)
        ("f", "empty/notes.txt"),
        ("f", "empty/emptysub/x.txt"),
        ("d", "empty/emptier"),
        # a directory whose name looks like an image is a class
        ("f", "zz.png/q.png"),
    ]


def spec_medium():
    exts = ["png", "jpg", "JPG", "jpeg", "Png", "bmp", "gif", "PNG"]
    counts = [("bird", 17), ("cat", 41), ("dog", 60), ("Zebra", 32)]
    entries = [("f", "c_empty/readme.txt"), ("d", "c_empty/sub")]
    n = 0
    for cls, count in counts:
        for k in range(count):
            folder = cls
            if k % 5 == 3:
                folder += "/sub"
            elif k % 7 == 6:
                folder += "/sub/deep"
            entries.append(("f", f"{folder}/img_{k}.{exts[n % len(exts)]}"))
            n += 1
        entries.append(("f", f"{cls}/notes.txt"))
        entries.append(("f", f"{cls}/img_x.jpgx"))
        entries.append(("f", f"{cls}/Thumbs.db"))
    return entries


def spec_large():
    counts = [120, 95, 80, 110, 60, 75, 90, 85, 70, 65, 100, 50]
    exts = ["png", "jpg", "png", "jpeg", "png"]
    entries = []
    for c, count in enumerate(counts):
        for k in range(count):
            folder = f"class_{c}"
            if k % 9 == 4:
                folder += f"/part{k % 11}"
            entries.append(("f", f"{folder}/{k}.{exts[(k + c) % len(exts)]}"))
    return entries


def spec_links():
    return [
        ("f", "real/a.png"),
        ("f", "real/b.png"),
        ("f", "real/sub/c.png"),
        ("f", "other/x.png"),
        ("l", "other/lnkfile.png", "../real/a.png"),
        ("l", "other/lnkdir", "../real/sub"),
        ("l", "other/broken.png", "does_not_exist.png"),
        ("l", "alias", "real"),
        ("l", "rootlink.png", "real/b.png"),
    ]


TREES = {
    "tiny": spec_tiny,
    "tricky": spec_tricky,
    "medium": spec_medium,
    "large": spec_large,
    "links": spec_links,
}

# Explicit class_names (a subset, in a non-sorted order) used for some cases.
EXPLICIT_CLASSES = {
    "tiny": ["b", "a"],
    "tricky": ["\u4e2d", "apple", "Banana", NFD_E, "empty"],
    "medium": ["dog", "Zebra", "c_empty", "bird"],
    "large": ["class_10", "class_2", "class_0", "class_7"],
}


def build_tree(root, spec, rng):
    """Write a tree; return {relpath: pixel bytes} of every decodable image file."""
    pixels_of = {}
    for entry in spec:
        kind, rel = entry[0], entry[1]
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "d":
            path.mkdir(parents=True, exist_ok=True)
        elif kind == "l":
            os.symlink(entry[2], path)
        else:
            pixels = rng.randint(0, 256, size=(2, 2, 3)).astype(np.uint8)
            path.write_bytes(encode_for_name(rel, pixels))
    # Fingerprint every file with an image-like content the way Keras decodes it.
    for dirpath, _, files in os.walk(root):
        for name in files:
            full = Path(dirpath) / name
            if not full.exists() or name.lower().endswith(".txt"):
                continue
            img = tf.io.decode_image(tf.io.read_file(str(full)), channels=3, expand_animations=False)
            rel = str(full.relative_to(root))
            if full.is_symlink():
                continue  # same pixels as its target
            pixels_of[rel] = img.numpy().tobytes()
    by_pixels = {}
    for rel, key in pixels_of.items():
        if key in by_pixels:
            raise RuntimeError(f"two files with the same pixels: {rel} and {by_pixels[key]}")
        by_pixels[key] = rel
    return by_pixels


def tree_inventory(root):
    """Every entry of a tree (sorted by relative path): path and kind."""
    items = []
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            full = Path(dirpath) / name
            rel = str(full.relative_to(root))
            if full.is_symlink():
                items.append({"path": rel, "kind": "symlink", "target": os.readlink(full)})
            elif full.is_dir():
                items.append({"path": rel, "kind": "dir"})
            else:
                items.append({"path": rel, "kind": "file"})
    return sorted(items, key=lambda item: item["path"])


# --------------------------------------------------------------------------
# Running Keras.


def call_keras(directory, args):
    kwargs = dict(args)
    with contextlib.redirect_stdout(io.StringIO()):
        return keras.utils.image_dataset_from_directory(
            str(directory), image_size=(2, 2), batch_size=1024, verbose=False, **kwargs
        )


def relative(directory, paths):
    prefix = str(directory) + os.sep
    out = []
    for p in paths:
        if not p.startswith(prefix):
            raise RuntimeError(f"unexpected path {p}")
        out.append(p[len(prefix):])
    return out


def rule_labels(file_paths, class_names):
    """Label = index in class_names of the path's first component (last index
    if class_names repeats a name, as Keras's dict(zip(...)) does)."""
    index = {name: i for i, name in enumerate(class_names)}
    return [index[p.split(os.sep, 1)[0]] for p in file_paths]


def iterate(ds, by_pixels, labelled):
    """The files (and labels) a dataset yields, in its order."""
    files, labels = [], []
    for batch in ds.as_numpy_iterator():
        images = batch[0] if labelled else batch
        for i in range(images.shape[0]):
            img = images[i]
            as_u8 = img.astype(np.uint8)
            if not np.array_equal(as_u8.astype(np.float32), img):
                raise RuntimeError("a 2x2 image did not come back unchanged")
            files.append(by_pixels[as_u8.tobytes()])
            if labelled:
                labels.append(int(np.asarray(batch[1][i]).reshape(-1)[0]))
    return files, labels


def describe(ds, directory, by_pixels, labelled, check_rule=True):
    paths = relative(directory, ds.file_paths)
    class_names = ds.class_names
    result = {"class_names": class_names, "file_paths": paths}
    if by_pixels is None:
        result["labels"] = rule_labels(paths, class_names) if labelled else None
        result["labels_source"] = "rule+index_directory"
        return result
    files, labels = iterate(ds, by_pixels, labelled)
    if sorted(files) != sorted(paths):
        raise RuntimeError("the dataset yielded other files than file_paths")
    if labelled:
        label_of = {}
        for f, lab in zip(files, labels):
            if label_of.setdefault(f, lab) != lab:
                raise RuntimeError(f"{f} yielded with two labels")
        result["labels"] = [label_of[p] for p in paths]
        if check_rule and result["labels"] != rule_labels(paths, class_names):
            raise RuntimeError("labels differ from the first-component rule")
    else:
        result["labels"] = None
    result["labels_source"] = "dataset"
    result["iteration_order_is_file_paths"] = files == paths
    return result


_TOTALS = {}


def run_case(tree, directory, by_pixels, args, note=None):
    case = {"tree": tree, "args": args}
    if note:
        case["note"] = note
    try:
        ds = call_keras(directory, args)
    except Exception as exc:  # record what Keras rejects
        message = str(exc).replace(str(directory), "<DIR>")
        case["error"] = {"type": type(exc).__name__, "message": message}
        return case
    labelled = args.get("labels", "inferred") is not None and args.get("label_mode", "int") is not None
    if isinstance(ds, (list, tuple)):
        train, val = ds
        case["result"] = {
            "training": describe(train, directory, by_pixels, labelled),
            "validation": describe(val, directory, by_pixels, labelled),
        }
        case["result"]["class_names"] = train.class_names
        n = len(case["result"]["training"]["file_paths"]) + len(case["result"]["validation"]["file_paths"])
    else:
        case["result"] = describe(ds, directory, by_pixels, labelled)
        n = None
    vs = args.get("validation_split")
    if vs:
        # The number of files before the split, from an unsplit listing.
        unsplit = dict(args, validation_split=None, subset=None, shuffle=False, seed=None)
        key = (str(directory), json.dumps(unsplit, sort_keys=True))
        if key not in _TOTALS:
            _TOTALS[key] = len(call_keras(directory, unsplit).file_paths)
        total = _TOTALS[key]
        if n is not None and n != total:
            raise RuntimeError("training + validation is not the whole listing")
        num_val = int(vs * total)
        case["result"]["num_files"] = total
        case["result"]["num_val"] = num_val
        sizes = {"training": total - num_val, "validation": num_val if num_val else total}
        res = case["result"]
        for subset in ("training", "validation"):
            got = res[subset] if subset in res else (res if args["subset"] == subset else None)
            if got is not None and len(got["file_paths"]) != sizes[subset]:
                raise RuntimeError(f"{subset} size is not what int(validation_split * N) predicts")
    return case


def index_directory_check(directory, case):
    """For the links tree: Keras's own listing function gives the same answer."""
    args = case["args"]
    if "result" not in case or args.get("validation_split"):
        return
    paths, labels, class_names = dataset_utils.index_directory(
        str(directory),
        args.get("labels", "inferred"),
        formats=IMAGE_EXTS,
        class_names=args.get("class_names"),
        shuffle=args["shuffle"],
        seed=args["seed"],
        follow_links=args.get("follow_links", False),
        verbose=False,
    )
    res = case["result"]
    labels = None if labels is None else [int(v) for v in labels]
    if relative(directory, paths) != res["file_paths"] or labels != res["labels"]:
        raise RuntimeError("index_directory disagrees with image_dataset_from_directory")
    if class_names != res["class_names"]:
        raise RuntimeError("index_directory class_names disagree")


def grid_cases(tree, directory, by_pixels):
    cases = []
    for class_names in (None, EXPLICIT_CLASSES.get(tree)):
        if class_names is None and tree == "links":
            continue
        seeds = SEEDS if class_names is None else [42]
        for shuffle in (True, False):
            for seed in seeds:
                for vs, subset in SPLITS:
                    args = {"labels": "inferred", "class_names": class_names, "shuffle": shuffle,
                            "seed": seed, "validation_split": vs, "subset": subset}
                    cases.append(run_case(tree, directory, by_pixels, args))
    return cases


def extra_cases(trees):
    """Edge cases and rejected configurations."""
    cases = []

    def add(tree, note, **args):
        full = {"labels": "inferred", "class_names": None, "shuffle": True, "seed": 42,
                "validation_split": None, "subset": None}
        full.update(args)
        directory, by_pixels = trees[tree]
        case = run_case(tree, directory, by_pixels, full, note)
        if tree == "links":
            index_directory_check(directory, case)
        cases.append(case)

    add("tricky", "split while shuffling needs a seed", seed=None, validation_split=0.2, subset="training")
    add("tricky", "split while shuffling needs a seed", seed=None, validation_split=0.2, subset="both")
    add("tricky", "no shuffle: split without seed is fine (sorted order)", shuffle=False, seed=None,
        validation_split=0.2, subset="training")
    add("tricky", "no shuffle: split without seed is fine (sorted order)", shuffle=False, seed=None,
        validation_split=0.2, subset="validation")
    add("tricky", "no shuffle: split without seed is fine (sorted order)", shuffle=False, seed=None,
        validation_split=0.2, subset="both")
    add("tricky", "no shuffle, no seed, no split", shuffle=False, seed=None)
    add("tricky", "validation_split 0 with a subset", validation_split=0, subset="training")
    add("tricky", "validation_split 0.0 without subset: no split at all", validation_split=0.0)
    add("tricky", "validation_split 1", validation_split=1, subset="training")
    add("tricky", "validation_split 1.0", validation_split=1.0, subset="validation")
    add("tricky", "validation_split negative", validation_split=-0.2, subset="training")
    add("tricky", "validation_split > 1", validation_split=1.5, subset="training")
    add("tricky", "subset without validation_split", subset="training")
    add("tricky", "validation_split without subset", validation_split=0.2)
    add("tricky", "subset name is case-sensitive", validation_split=0.2, subset="Training")
    add("tricky", "class_names not a subset of the folders", class_names=["Apple", "Cherry"])
    add("tricky", "a hidden folder cannot be named in class_names", class_names=[".hidden", "Apple"])
    add("tricky", "NFC and NFD names are different classes", class_names=[NFC_E, NFD_E], shuffle=False)
    add("tricky", "class_names naming only an empty class", class_names=["empty"])
    add("tricky", "class_names = []", class_names=[])
    add("tricky", "class_names repeating a name: files listed twice, label = last index",
        class_names=["apple", "_x", "apple"], shuffle=False)
    add("tricky", "class_names repeating a name, shuffled", class_names=["apple", "_x", "apple"], seed=417)
    add("tricky", "labels=None: root walked recursively, hidden folder and root files included",
        labels=None, shuffle=False)
    add("tricky", "labels=None, shuffled", labels=None, seed=42)
    add("tricky", "label_mode=None behaves like labels=None", label_mode=None, shuffle=False)
    add("tricky", "binary needs exactly 2 classes", label_mode="binary")
    add("tiny", "binary with 2 classes", label_mode="binary", shuffle=False)
    add("tiny", "seed 0 is a real seed", seed=0, validation_split=0.2, subset="training")
    add("tiny", "seed 2**32-1", seed=2**32 - 1)
    add("tiny", "seed 2**32 is out of numpy's range", seed=2**32)
    add("tiny", "seed -1", seed=-1)
    add("tiny", "seed 2**32 without shuffle: numpy is never called", seed=2**32, shuffle=False)
    for subset in ("training", "validation", "both"):
        add("tiny", "int(0.1 * 7) == 0 validation files", validation_split=0.1, subset=subset)
    for subset in ("training", "validation"):
        add("medium", "0.82 * 150 = 122.99999999999999 in float64, so num_val = 122",
            validation_split=0.82, subset=subset)
        add("medium", "0.14 * 150 = 21.000000000000004 in float64, so num_val = 21",
            validation_split=0.14, subset=subset)
        add("medium", "0.29 * 150 = 43.5, so num_val = 43", validation_split=0.29, subset=subset)
    add("empty_root", "a directory with no sub-folders at all", shuffle=False)
    add("only_empty_class", "the only class has no images", shuffle=False)
    add("missing", "the directory does not exist", shuffle=False)
    for follow in (False, True):
        add("links", f"symlinks, follow_links={follow}", follow_links=follow, shuffle=False)
        add("links", f"symlinks, follow_links={follow}, shuffled", follow_links=follow, seed=42)
    add("links", "labels=None with symlinks", labels=None, shuffle=False)
    return cases


# --------------------------------------------------------------------------
# numpy RandomState vectors.


def randomstate_vectors():
    out = {
        "what_keras_calls": (
            "dataset_utils.index_directory: rng = np.random.RandomState(seed); "
            "rng.shuffle(file_paths)  [a Python list of str]; then, if labels is "
            "not None, rng = np.random.RandomState(seed); rng.shuffle(labels)  "
            "[a 1-D int32 ndarray]. Both draw the same permutation because it "
            "depends on seed and length only."
        ),
        "checksum": "sum(i * perm[i] for i in range(n)) % (2**61 - 1), exact integers",
        "vectors": [],
        "raw_uint32": [],
    }
    for seed in RS_SEEDS:
        raw = np.random.RandomState(seed)._bit_generator.random_raw(10)
        out["raw_uint32"].append({"seed": seed, "first10": [int(v) for v in raw]})
        for n in RS_SIZES:
            perm = list(range(n))
            np.random.RandomState(seed).shuffle(perm)
            arr = np.arange(n, dtype=np.int32)
            np.random.RandomState(seed).shuffle(arr)
            if arr.tolist() != perm:
                raise RuntimeError("list and ndarray shuffles differ")
            checksum = sum(i * v for i, v in enumerate(perm)) % CHECKSUM_MOD
            item = {"seed": seed, "n": n, "checksum": checksum}
            if n <= 1000:
                item["perm"] = perm
            else:
                item["first50"] = perm[:50]
                item["last50"] = perm[-50:]
            out["vectors"].append(item)
    # Reference value quoted in KERAS-REFERENCE.md
    perm = list(range(21))
    np.random.RandomState(417).shuffle(perm)
    assert perm == [2, 16, 10, 0, 20, 3, 5, 6, 4, 15, 17, 8, 12, 14, 13, 9, 7, 1, 18, 11, 19], perm
    # seed=None: image_dataset_from_directory draws np.random.randint(1e6) from the
    # global numpy state, then uses it for numpy and TF alike.
    np.random.seed(7)
    drawn = int(np.random.randint(1e6))
    out["seed_none"] = (
        "image_dataset_from_directory replaces seed=None by np.random.randint(1e6) "
        "(numpy's global RandomState; drawn even when shuffle=False) before listing; "
        f"e.g. after np.random.seed(7) that is {drawn}. Not reproducible unless the "
        "caller seeded numpy's global state."
    )
    return out


def check_seed_none(directory):
    """seed=None behaves as seed=np.random.randint(1e6) from the global state."""
    np.random.seed(7)
    drawn = int(np.random.randint(1e6))
    np.random.seed(7)
    a = call_keras(directory, {"shuffle": True, "seed": None})
    b = call_keras(directory, {"shuffle": True, "seed": drawn})
    if a.file_paths != b.file_paths:
        raise RuntimeError("seed=None is not np.random.randint(1e6)")


# --------------------------------------------------------------------------
# Resize vectors.


def crop_box(h, w, th, tw):
    """Keras's crop box in the tf.data graph (dynamic shapes): float32 maths."""
    f = np.float32
    crop_h = int(f(w * th) / f(tw))
    crop_h = max(min(h, crop_h), 1)
    crop_w = int(f(h * tw) / f(th))
    crop_w = max(min(w, crop_w), 1)
    return crop_h, crop_w, int(f(h - crop_h) / f(2)), int(f(w - crop_w) / f(2))


def make_resizers(size):
    spec = [tf.TensorSpec([None, None, None], tf.float32)]

    @tf.function(input_signature=spec)
    def plain(img):
        return tf.image.resize(img, size, method="bilinear")

    @tf.function(input_signature=spec)
    def crop(img):
        return image_utils.smart_resize(
            img, size, interpolation="bilinear", data_format="channels_last", backend_module=tf_backend
        )

    return plain, crop


def reference_bilinear(img, oh, ow):
    """Our reading of TF's ResizeBilinear (half-pixel centres), float32, no FMA."""
    f = np.float32
    ih, iw, _ = img.shape

    def axis(n_out, n_in):
        scale = f(n_in) / f(n_out)
        src = (np.arange(n_out, dtype=f) + f(0.5)) * scale - f(0.5)
        lo_f = np.floor(src)
        lo = np.maximum(lo_f.astype(np.int64), 0)
        hi = np.minimum(np.ceil(src).astype(np.int64), n_in - 1)
        return lo, hi, (src - lo_f).astype(f)

    y0, y1, yl = axis(oh, ih)
    x0, x1, xl = axis(ow, iw)
    xl = xl[None, :, None]
    yl = yl[:, None, None]
    tl, tr = img[y0][:, x0], img[y0][:, x1]
    bl, br = img[y1][:, x0], img[y1][:, x1]
    top = tl + (tr - tl) * xl
    bottom = bl + (br - bl) * xl
    return top + (bottom - top) * yl


def resize_vectors(out, work_tmp):
    rdir = out / "resize"
    rdir.mkdir()
    manifest = []
    info = {"inputs": [], "outputs": []}
    rng = np.random.RandomState(2024)
    inputs = {}
    for h, w in RESIZE_INPUTS:
        img = rng.uniform(0, 255, size=(h, w, RESIZE_CHANNELS)).astype(np.float32)
        name = f"in_{h}x{w}.f32"
        np.ascontiguousarray(img, dtype="<f4").tofile(rdir / name)
        manifest.append(f"resize/{name} {h} {w} {RESIZE_CHANNELS}")
        info["inputs"].append({"file": f"resize/{name}", "shape": [h, w, RESIZE_CHANNELS]})
        inputs[(h, w)] = img
    for th, tw in RESIZE_TARGETS:
        plain, crop = make_resizers((th, tw))
        for (h, w), img in inputs.items():
            y = plain(img).numpy()
            ref = reference_bilinear(img, th, tw)
            if not np.array_equal(y, ref):
                raise RuntimeError(f"reference bilinear differs for {h}x{w} -> {th}x{tw}")
            ch, cw, hs, ws = crop_box(h, w, th, tw)
            yc = crop(img).numpy()
            if not np.array_equal(yc, plain(img[hs:hs + ch, ws:ws + cw]).numpy()):
                raise RuntimeError(f"crop box differs for {h}x{w} -> {th}x{tw}")
            for kind, arr in (("plain", y), ("crop", yc)):
                name = f"{kind}_{h}x{w}_to_{th}x{tw}.f32"
                np.ascontiguousarray(arr, dtype="<f4").tofile(rdir / name)
                manifest.append(f"resize/{name} {th} {tw} {RESIZE_CHANNELS}")
                item = {"file": f"resize/{name}", "input": f"resize/in_{h}x{w}.f32",
                        "crop_to_aspect_ratio": kind == "crop", "shape": [th, tw, RESIZE_CHANNELS]}
                if kind == "crop":
                    item["crop_box"] = {"height": ch, "width": cw, "top": hs, "left": ws}
                info["outputs"].append(item)
    check_pipeline_resize(work_tmp)
    (out / "resize_manifest.txt").write_text("".join(line + "\n" for line in manifest))
    return info


def check_pipeline_resize(tmp):
    """image_dataset_from_directory's own output equals our resize functions."""
    rng = np.random.RandomState(99)
    tree = tmp / "resize_check"
    imgs = {}
    for i, (h, w) in enumerate([(37, 23), (5, 7), (60, 90), (1, 1)]):
        img = rng.randint(0, 256, size=(h, w, 3)).astype(np.uint8)
        (tree / "c").mkdir(parents=True, exist_ok=True)
        (tree / "c" / f"{i}.png").write_bytes(tf.io.encode_png(img).numpy())
        imgs[f"{i}.png"] = img
    for th, tw in [(64, 48), (3, 2), (100, 100)]:
        plain, crop = make_resizers((th, tw))
        for crop_flag, fn in ((False, plain), (True, crop)):
            with contextlib.redirect_stdout(io.StringIO()):
                ds = keras.utils.image_dataset_from_directory(
                    str(tree), image_size=(th, tw), shuffle=False, batch_size=None,
                    crop_to_aspect_ratio=crop_flag, verbose=False)
            for path, (image, _) in zip(ds.file_paths, ds.as_numpy_iterator()):
                want = fn(imgs[os.path.basename(path)].astype(np.float32)).numpy()
                if not np.array_equal(image, want):
                    raise RuntimeError(f"pipeline resize differs: {path} {th}x{tw} crop={crop_flag}")
    shutil.rmtree(tree)


# --------------------------------------------------------------------------


def build_fixtures(out):
    timer = time.perf_counter()
    trees_dir = out / "trees"
    trees_dir.mkdir()
    trees = {}
    inventory = {}
    for i, (name, spec) in enumerate(TREES.items()):
        root = trees_dir / name
        root.mkdir()
        by_pixels = build_tree(root, spec(), np.random.RandomState(1000 + i))
        trees[name] = (root, None if name == "links" else by_pixels)
        inventory[name] = tree_inventory(root)
    # Degenerate trees for error cases.
    (trees_dir / "empty_root").mkdir()
    (trees_dir / "empty_root" / "loose.png").write_bytes(encode_for_name("x.png", np.zeros((2, 2, 3), np.uint8)))
    (trees_dir / "only_empty_class" / "cls").mkdir(parents=True)
    (trees_dir / "only_empty_class" / "cls" / "a.txt").write_text("text\n")
    trees["empty_root"] = (trees_dir / "empty_root", {})
    trees["only_empty_class"] = (trees_dir / "only_empty_class", {})
    trees["missing"] = (trees_dir / "missing", {})
    for name in ("empty_root", "only_empty_class"):
        inventory[name] = tree_inventory(trees_dir / name)
    print(f"trees written in {time.perf_counter() - timer:.1f} s")

    cases = []
    for name in TREES:
        directory, by_pixels = trees[name]
        if name != "links":
            cases += grid_cases(name, directory, by_pixels)
            print(f"  {name}: {len(cases)} cases, {time.perf_counter() - timer:.1f} s")
    cases += extra_cases(trees)
    check_seed_none(trees["tiny"][0])
    for i, case in enumerate(cases):
        case["id"] = i
    print(f"{len(cases)} listing cases in {time.perf_counter() - timer:.1f} s")

    listing = {
        "keras": keras.__version__,
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "notes": [
            "file_paths are relative to the tree root (Keras reports directory + '/' + these).",
            "labels_source 'dataset': labels as yielded by iterating the dataset, mapped to files "
            "by their unique pixels; 'rule+index_directory': label = class_names index of the "
            "first path component, cross-checked with dataset_utils.index_directory.",
            "iteration_order_is_file_paths: whether one epoch of the dataset came out in "
            "file_paths order (False when TF's per-epoch shuffle is active).",
            "num_files/num_val (cases with a validation_split): files listed before the split, "
            "and int(validation_split * num_files) computed by this script (checked against the "
            "subset sizes).",
            "Error messages have the tree's absolute path replaced by <DIR>.",
        ],
        "trees": {name: {"entries": inv} for name, inv in inventory.items()},
        "cases": cases,
    }
    with open(out / "listing.json", "w", encoding="ascii") as fh:
        json.dump(listing, fh, indent=1, ensure_ascii=True)
        fh.write("\n")

    with open(out / "randomstate.json", "w", encoding="ascii") as fh:
        json.dump(randomstate_vectors(), fh, indent=1)
        fh.write("\n")

    tmp = Path(tempfile.mkdtemp(prefix="resize-check-", dir=out.parent))
    try:
        info = resize_vectors(out, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info["notes"] = [
        "Inputs: RandomState(2024).uniform(0, 255, (h, w, 3)).astype(float32), HWC.",
        "plain: tf.image.resize(img, (th, tw), method='bilinear') (antialias False), as "
        "image_dataset_from_directory's default path.",
        "crop: keras.src.utils.image_utils.smart_resize(img, (th, tw), backend_module=tf backend) "
        "traced with an unknown input shape, exactly the crop_to_aspect_ratio=True path.",
        "The script asserts both equal image_dataset_from_directory's own output on PNG files, "
        "and that plain equals a float32 no-FMA half-pixel bilinear formula bit for bit.",
    ]
    with open(out / "resize.json", "w", encoding="ascii") as fh:
        json.dump(info, fh, indent=1)
        fh.write("\n")

    (out / "STAMP").write_text(f"tensorflow {tf.__version__}\nkeras {keras.__version__}\nnumpy {np.__version__}\n")
    print(f"data fixtures built in {time.perf_counter() - timer:.1f} s")


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".fixtures/data").resolve()
    build_into(out, build_fixtures)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
