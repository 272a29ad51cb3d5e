"""Graft: ResNet transfer learning on the CPU, with Keras's names.

    import graft
    base = graft.applications.ResNet50(weights="imagenet", input_shape=(100, 100, 3))
    features = base.features_from_images(images)   # RGB 0..255, (n, 100, 100, 3)

The computing is done by libgraft (see graft/_lib.py for where it is found).
"""

__version__ = "0.1.0"

from . import applications
from ._lib import lib as _library
from .errors import GraftError

__all__ = ["GraftError", "__version__", "applications", "library_version"]


def library_version() -> str:
    """The loaded libgraft's version, "MAJOR.MINOR.PATCH" (graft_version())."""
    return _library.graft_version().decode()
