"""Graft: ResNet transfer learning on the CPU, with Keras's names.

    import graft
    base = graft.applications.ResNet50(weights="imagenet", input_shape=(100, 100, 3))
    features = base.features_from_images(images)   # RGB 0..255, (n, 100, 100, 3)
    train, val = graft.image_dataset_from_directory("beans/train", image_size=(100, 100),
                     validation_split=0.25, subset="both", seed=417)
    for images, labels in train: ...

The computing is done by libgraft (see graft/_lib.py for where it is found).
"""

__version__ = "0.1.0"

from . import applications, optimizers
from ._lib import lib as _library
from .data import ImageDataset, image_dataset_from_directory
from .errors import GraftError
from .transfer import History, TransferModel

__all__ = ["GraftError", "History", "ImageDataset", "TransferModel", "__version__", "applications",
           "image_dataset_from_directory", "library_version", "optimizers"]


def library_version() -> str:
    """The loaded libgraft's version, "MAJOR.MINOR.PATCH" (graft_version())."""
    return _library.graft_version().decode()
