"""`pip install ./bindings/python` gives a package that imports and runs on
the library it is pointed at (GRAFT_LIBRARY), outside this checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent


def test_pip_install_and_use(tmp_path) -> None:
    # From a copy: setuptools writes build/ and *.egg-info beside the sources.
    source, target = tmp_path / "source", tmp_path / "site"
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("tests", "__pycache__", "build", "*.egg-info"))
    # --no-build-isolation: setuptools comes from this environment, so the
    # install needs no network; --no-deps: numpy is there already.
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, cwd=tmp_path)
    library = Path(os.environ.get("GRAFT_LIBRARY") or PACKAGE.parent.parent / ".build" / "release" / "libgraft.so")
    script = ("import graft, numpy as np; assert graft.__file__.startswith(%r); "
              "base = graft.applications.ResNet50(weights=None, input_shape=(32, 32, 3)); "
              "print(graft.library_version(), base.features_from_images(np.zeros((1, 32, 32, 3))).shape)"
              % str(target))
    env = dict(os.environ, PYTHONPATH=str(target), GRAFT_LIBRARY=str(library))
    out = subprocess.run([sys.executable, "-c", script], check=True, cwd=tmp_path, env=env,
                         capture_output=True, text=True).stdout
    assert out.split()[-4:] == ["(1,", "1,", "1,", "2048)"], out
