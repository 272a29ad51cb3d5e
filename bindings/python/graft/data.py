"""Datasets: folders of images (Keras's image_dataset_from_directory) and
arrays in memory, iterated as (images, labels) numpy batches."""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Iterator, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _lib
from .errors import GraftError, Status

ALLOWED_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


class ImageDataset:
    """Labelled images handed out in batches by libgraft.

    Iterating gives one pass (an epoch): `(images, labels)` pairs, images a
    float32 array (n, height, width, 3) of RGB values 0..255, labels int32
    class indices (n,) or, with label_mode="categorical", float32 one-hot
    (n, classes). Each pass is reshuffled when the dataset shuffles. Images
    are decoded and resized on the library's threads ahead of the loop.
    Each iterator is a pass of its own, as with tf.data: `zip(ds, ds)` pairs
    two whole passes, and threads iterating at once each get every batch.
    """

    def __init__(self, handle: ctypes.c_void_p, batch_size: int, label_mode: str) -> None:
        self._handle = handle
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self.label_mode = label_mode
        library = _lib.lib
        self.class_names = [library.graft_dataset_class_name(handle, i).decode()
                            for i in range(library.graft_dataset_class_count(handle))]
        size = library.graft_dataset_size(handle)
        paths = [library.graft_dataset_file_path(handle, i) for i in range(size)]
        self.file_paths = [p.decode() for p in paths] if paths and paths[0] is not None else []
        height, width = ctypes.c_int32(), ctypes.c_int32()
        _lib.check(library.graft_dataset_image_shape(handle, ctypes.byref(height), ctypes.byref(width)))
        self.image_size = (height.value, width.value)

    def __len__(self) -> int:
        """Batches in one pass, as len() of a batched tf.data.Dataset."""
        return _lib.lib.graft_dataset_batch_count(self._live_handle())

    @property
    def cardinality(self) -> int:
        """Images in the dataset."""
        return _lib.lib.graft_dataset_size(self._live_handle())

    @property
    def labels(self) -> np.ndarray:
        """Class index of every image, in `file_paths` order."""
        handle = self._live_handle()
        return np.array([_lib.lib.graft_dataset_label(handle, i) for i in range(self.cardinality)],
                        dtype=np.int32)

    def __iter__(self) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        iterator = ctypes.c_void_p()
        with self._lock:
            _lib.check(_lib.lib.graft_dataset_iterate(self._live_handle(), ctypes.byref(iterator)))
        try:
            height, width = self.image_size
            count = ctypes.c_int64()
            while True:
                images = np.empty((self.batch_size, height, width, 3), dtype=np.float32)
                labels = np.empty((self.batch_size,), dtype=np.int32)
                _lib.check(_lib.lib.graft_dataset_iterator_next(
                    iterator, images.ctypes.data, labels.ctypes.data, ctypes.byref(count)))
                n = count.value
                if n == 0:
                    return
                yield images[:n], self._format_labels(labels[:n])
        finally:
            _lib.lib.graft_dataset_iterator_free(iterator)

    def _format_labels(self, labels: np.ndarray) -> np.ndarray:
        if self.label_mode == "categorical":
            return np.eye(len(self.class_names), dtype=np.float32)[labels]
        return labels

    def _live_handle(self) -> ctypes.c_void_p:
        if not self._handle:
            raise GraftError(Status.STATE, "this dataset has been closed")
        return self._handle

    def close(self) -> None:
        """Release the library's dataset (also done when garbage collected)."""
        with self._lock:
            if self._handle:
                _lib.lib.graft_dataset_free(self._handle)
                self._handle = None

    def __del__(self) -> None:
        if getattr(self, "_handle", None):
            _lib.lib.graft_dataset_free(self._handle)
            self._handle = None

    @classmethod
    def from_arrays(cls, images: ArrayLike, labels: ArrayLike, num_classes: Optional[int] = None,
                    batch_size: int = 32, shuffle: bool = True, seed: Optional[int] = None,
                    label_mode: str = "int") -> "ImageDataset":
        """A dataset of images held in memory (copied): uint8 or float32
        (n, height, width, 3) RGB 0..255, with integer class labels (n,)."""
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[3] != 3:
            raise ValueError(f"images must have shape (n, height, width, 3), not {images.shape}")
        labels = np.ascontiguousarray(labels, dtype=np.int32)
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), not {labels.shape}")
        if num_classes is None:
            num_classes = int(labels.max()) + 1 if labels.size else 0
        if images.dtype == np.uint8:
            images = np.ascontiguousarray(images)
            function = _lib.lib.graft_dataset_from_memory
        else:
            images = np.ascontiguousarray(images, dtype=np.float32)
            function = _lib.lib.graft_dataset_from_memory_float
        options = _options(batch_size=batch_size, shuffle=shuffle, seed=seed, label_mode=label_mode)
        handle = ctypes.c_void_p()
        _lib.check(function(images.ctypes.data, labels.ctypes.data, images.shape[0], images.shape[1],
                            images.shape[2], num_classes, ctypes.byref(options), ctypes.byref(handle)))
        return cls(handle, batch_size, label_mode)


def _options(image_size: Tuple[int, int] = (256, 256), batch_size: int = 32, shuffle: bool = True,
             seed: Optional[int] = None, validation_split: Optional[float] = None,
             subset: Optional[str] = None, label_mode: str = "int",
             class_names: Optional[Sequence[str]] = None, crop_to_aspect_ratio: bool = False,
             follow_links: bool = False, skip_corrupt_files: bool = False,
             threads: int = 0, max_image_pixels: Optional[int] = None) -> _lib.graft_dataset_options:
    """A graft_dataset_options from Keras's arguments, checked for type."""
    if label_mode not in _lib.LABEL_MODE:
        raise ValueError(f'label_mode must be "int" or "categorical", received: {label_mode!r}')
    if subset not in _lib.SUBSET:
        raise ValueError(f'subset must be "training", "validation" or "both", received: {subset!r}')
    if batch_size is None or isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise ValueError(f"batch_size must be an integer (Graft always batches), received: {batch_size!r}")
    if seed is not None and not 0 <= int(seed) <= 2**32 - 1:
        raise ValueError(f"seed must be between 0 and 2**32 - 1, received: {seed}")
    height, width = image_size
    options = _lib.default_dataset_options()
    options.image_height, options.image_width = height, width
    options.batch_size = batch_size
    options.shuffle = int(bool(shuffle))
    options.seed = -1 if seed is None else int(seed)
    options.validation_split = 0.0 if validation_split is None else float(validation_split)
    options.subset = _lib.SUBSET[subset]
    options.label_mode = _lib.LABEL_MODE[label_mode]
    if class_names is not None:
        encoded = [str(name).encode() for name in class_names]
        options.class_names = (ctypes.c_char_p * len(encoded))(*encoded)
        options.class_names_count = len(encoded)
    options.crop_to_aspect_ratio = int(bool(crop_to_aspect_ratio))
    options.follow_links = int(bool(follow_links))
    options.skip_corrupt_files = int(bool(skip_corrupt_files))
    options.num_threads = threads
    if max_image_pixels is not None:
        options.max_image_pixels = max_image_pixels
    return options


def image_dataset_from_directory(
        directory: Union[str, os.PathLike], labels: str = "inferred", label_mode: str = "int",
        class_names: Optional[Sequence[str]] = None, color_mode: str = "rgb", batch_size: int = 32,
        image_size: Tuple[int, int] = (256, 256), shuffle: bool = True, seed: Optional[int] = None,
        validation_split: Optional[float] = None, subset: Optional[str] = None,
        interpolation: str = "bilinear", follow_links: bool = False, crop_to_aspect_ratio: bool = False,
        verbose: bool = True, *, skip_corrupt_files: bool = False, threads: int = 0,
        max_image_pixels: Optional[int] = None,
) -> Union[ImageDataset, Tuple[ImageDataset, ImageDataset]]:
    """Keras's `image_dataset_from_directory`, computed by libgraft.

    Same arguments, defaults, file order, split and pixels as Keras. Graft
    supports labels="inferred", color_mode="rgb" and bilinear interpolation;
    other values raise ValueError. `skip_corrupt_files` (Graft's addition)
    drops unreadable images with a warning instead of raising; `threads`
    sets the decoding threads (0: one per core); images of more pixels than
    `max_image_pixels` (None: the library's default, PIL's MAX_IMAGE_PIXELS) are refused
    before they are decoded, as corrupt files are.

    Returns an `ImageDataset`, or (training, validation) for subset="both".
    """
    if labels != "inferred":
        raise ValueError('Graft supports labels="inferred" (one sub-folder per class) only')
    if color_mode != "rgb":
        raise ValueError('Graft supports color_mode="rgb" only')
    if interpolation != "bilinear":
        raise ValueError('Graft supports interpolation="bilinear" only')
    if subset not in (None, "training", "validation", "both"):
        raise ValueError(f'subset must be "training", "validation" or "both", received: {subset!r}')
    if subset == "both" and validation_split is None:
        raise ValueError("If subset is set, validation_split must be set, and inversely.")
    path = os.fsencode(directory)
    options = _options(image_size=image_size, batch_size=batch_size, shuffle=shuffle, seed=seed,
                       validation_split=validation_split, subset=None if subset == "both" else subset,
                       label_mode=label_mode, class_names=class_names,
                       crop_to_aspect_ratio=crop_to_aspect_ratio, follow_links=follow_links,
                       skip_corrupt_files=skip_corrupt_files, threads=threads,
                       max_image_pixels=max_image_pixels)
    if subset == "both":
        training, validation = ctypes.c_void_p(), ctypes.c_void_p()
        _lib.check(_lib.lib.graft_dataset_from_directory_split(
            path, ctypes.byref(options), ctypes.byref(training), ctypes.byref(validation)))
        datasets = (ImageDataset(training, batch_size, label_mode),
                    ImageDataset(validation, batch_size, label_mode))
        if verbose:
            total = datasets[0].cardinality + datasets[1].cardinality
            print(f"Found {total} files belonging to {len(datasets[0].class_names)} classes.")
            print(f"Using {datasets[0].cardinality} files for training.")
            print(f"Using {datasets[1].cardinality} files for validation.")
        return datasets
    handle = ctypes.c_void_p()
    _lib.check(_lib.lib.graft_dataset_from_directory(path, ctypes.byref(options), ctypes.byref(handle)))
    dataset = ImageDataset(handle, batch_size, label_mode)
    if verbose:
        if subset is None:
            print(f"Found {dataset.cardinality} files belonging to {len(dataset.class_names)} classes.")
        else:
            print(f"Using {dataset.cardinality} files for {subset}.")
    return dataset
