#!/usr/bin/env python3
"""Writes HDF5 files whose data lies outside them or behind filters, for the
weight readers' tests (Tests/GraftModelTests/HostileFileTests.swift).

Usage: make_hdf5_fixtures.py OUTDIR

Each file holds four float32 values [1, 2, 3, 4] at /a/d, stored as named:
  plain.h5              contiguous: the control, read
  deflate_shuffle_fletcher32.h5
                        chunked through HDF5's built-in filters: read
  other.h5              the target the next three reach into
  external_link.h5      /a is an external link to other.h5:/a: refused
  external_storage.h5   /a/d keeps its bytes in raw.bin beside it: refused
  virtual.h5            /a/d is a virtual dataset mapping other.h5:/a/d: refused
  unknown_filter.h5     /a/d is chunked through filter 32001 (Blosc, a
                        plugin): refused before HDF5 looks for the plugin
  STAMP                 written last: the h5py and HDF5 versions

Only h5py is needed; the files are tiny.
"""

import sys
from pathlib import Path

import h5py
import numpy as np

from fixture_dir import build_into

VALUES = np.array([1, 2, 3, 4], np.float32)


def build(out: Path) -> None:
    with h5py.File(out / "plain.h5", "w") as f:
        f.create_dataset("a/d", data=VALUES)
    with h5py.File(out / "deflate_shuffle_fletcher32.h5", "w") as f:
        f.create_dataset("a/d", data=VALUES, chunks=(2,), compression="gzip", shuffle=True, fletcher32=True)
    with h5py.File(out / "other.h5", "w") as f:
        f.create_dataset("a/d", data=VALUES)
    with h5py.File(out / "external_link.h5", "w") as f:
        f["a"] = h5py.ExternalLink("other.h5", "/a")
    (out / "raw.bin").write_bytes(VALUES.tobytes())
    with h5py.File(out / "external_storage.h5", "w") as f:
        f.create_dataset("a/d", shape=(4,), dtype=np.float32, external=[("raw.bin", 0, VALUES.nbytes)])
    layout = h5py.VirtualLayout(shape=(4,), dtype=np.float32)
    layout[:] = h5py.VirtualSource("other.h5", "a/d", shape=(4,))
    with h5py.File(out / "virtual.h5", "w") as f:
        f.create_group("a").create_virtual_dataset("d", layout)
    with h5py.File(out / "unknown_filter.h5", "w") as f:
        d = f.create_dataset("a/d", shape=(4,), dtype=np.float32, chunks=(4,), compression=32001,
                             allow_unknown_filter=True)
        d.id.write_direct_chunk((0,), VALUES.tobytes())
    (out / "STAMP").write_text(f"h5py {h5py.__version__}\nhdf5 {h5py.version.hdf5_version}\n")


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    build_into(Path(sys.argv[1]), build)


if __name__ == "__main__":
    main()
