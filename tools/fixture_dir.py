"""Writing a fixture directory all at once, shared by the tools/make_*fixtures.py scripts.

The directory is built under a temporary name beside its target and renamed
into place at the end, so that a failed or interrupted run leaves the old
fixtures (or none), never a half-written mix that a STAMP would vouch for.
"""

import shutil
import tempfile
from pathlib import Path
from typing import Callable


def replace_dir(new: Path, target: Path) -> None:
    """Put the finished directory `new` in place of `target`."""
    old = None
    if target.exists():
        old = target.with_name(target.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        target.rename(old)
    new.rename(target)
    if old is not None:
        shutil.rmtree(old)


def build_into(target: Path, build: Callable[[Path], None]) -> None:
    """Run `build(folder)` on a fresh folder, then make it `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    work.chmod(0o755)  # mkdtemp makes it private; the fixtures are not secret
    try:
        build(work)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    replace_dir(work, target)
