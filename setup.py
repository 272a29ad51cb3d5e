"""The build step pyproject.toml cannot express: the wheel carries libgraft.so
and the graft command, built from this checkout by `make build`, and is tagged
for the platform they were built for (py3-none-<platform>: the package itself
is pure Python over ctypes, so one wheel serves every Python 3)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from setuptools import Distribution, setup
from setuptools.command.build_py import build_py

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

ROOT = Path(__file__).resolve().parent
RELEASE = ROOT / ".build" / "release"
# What the build puts into the package: the library, and the command under bin/
# (where graft/__main__.py looks for it).
BUILT_FILES = {"libgraft.so": "libgraft.so", "graft-cli": "bin/graft"}
# Beside the library when `make build` could build it (MPI installed): the
# engine of distributed training, which libgraft.so loads from its folder.
OPTIONAL_FILES = {"libgraft_mpi.so": "libgraft_mpi.so"}


def graft_version() -> str:
    """GRAFT_VERSION from include/graft.h, the version's one owner."""
    header = (ROOT / "include" / "graft.h").read_text()
    match = re.search(r'^#define GRAFT_VERSION "([^"]+)"$', header, re.MULTILINE)
    if not match:
        raise RuntimeError("include/graft.h defines no GRAFT_VERSION")
    return match.group(1)


class BuildWithLibrary(build_py):
    """build_py, then `make build` and the built files copied into the package."""

    def run(self) -> None:
        super().run()
        if not (ROOT / "Package.swift").is_file():
            raise RuntimeError("the graft package builds from a Graft checkout (Package.swift beside setup.py)")
        subprocess.run(["make", "-C", str(ROOT), "build"], check=True)
        package = Path(self.build_lib) / "graft"
        optional = {built: placed for built, placed in OPTIONAL_FILES.items() if (RELEASE / built).is_file()}
        for built, placed in {**BUILT_FILES, **optional}.items():
            target = package / placed
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(RELEASE / built, target)


class BinaryDistribution(Distribution):
    """A distribution with binaries in it: installed to platlib, at the
    wheel's root, not as pure Python."""

    def has_ext_modules(self) -> bool:
        return True


class PlatformWheel(bdist_wheel):
    """A platform wheel for any Python 3: the binaries are not Python extensions."""

    def get_tag(self) -> tuple[str, str, str]:
        return ("py3", "none", super().get_tag()[2])


# setuptools' own build files go under .build/, beside Swift's, not into the checkout's tree.
BUILD_BASE = ROOT / ".build" / "python"
BUILD_BASE.mkdir(parents=True, exist_ok=True)

setup(version=graft_version(), distclass=BinaryDistribution,
      cmdclass={"build_py": BuildWithLibrary, "bdist_wheel": PlatformWheel},
      options={"build": {"build_base": str(BUILD_BASE)}, "egg_info": {"egg_base": str(BUILD_BASE)}})
