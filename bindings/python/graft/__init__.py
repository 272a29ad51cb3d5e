"""Graft: ResNet transfer learning on the CPU, with Keras's names.

    import graft
    train, val = graft.image_dataset_from_directory("beans/train", image_size=(100, 100),
                     validation_split=0.25, subset="both", seed=417)
    base = graft.applications.ResNet50(weights="imagenet", input_shape=(100, 100, 3))
    model = graft.TransferModel(base, num_classes=len(train.class_names),
                                augmentation="horizontal_and_vertical")
    base.trainable = False
    model.compile(optimizer=graft.optimizers.Adam())
    history = model.fit(train, epochs=20, validation_data=val)   # Keras's progress bar
    graft.plot_history(history, "curves.png")                     # needs matplotlib
    model.summary()
    model.save("beans.h5")
    model = graft.load_model("beans.h5")

The computing is done by libgraft (see graft/_lib.py for where it is found).
"""

from . import applications, callbacks, distribution, layers, losses, metrics, optimizers
from ._lib import lib as _library
from .data import ImageDataset, image_dataset_from_directory
from .errors import GraftError
from .plotting import plot_history
from .reports import history_text
from .transfer import History, TransferModel, load_model

__all__ = ["GraftError", "History", "ImageDataset", "TransferModel", "__version__", "applications", "callbacks",
           "distribution",
           "history_text", "image_dataset_from_directory", "layers", "library_version", "load_model", "losses",
           "metrics", "optimizers", "plot_history"]


def library_version() -> str:
    """The loaded libgraft's version, "MAJOR.MINOR.PATCH" (graft_version())."""
    return _library.graft_version().decode()


# The bindings are released with the library, whose graft.h owns the version
# (GRAFT_VERSION; a wheel's metadata is read from there when it is built).
__version__ = library_version()
