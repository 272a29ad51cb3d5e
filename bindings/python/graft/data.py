"""Datasets: folders of images (Keras's image_dataset_from_directory) and
arrays in memory, iterated as (images, labels) numpy batches."""

from __future__ import annotations

import ctypes
import os
import threading
from typing import Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import _lib
from ._dataset_arguments import check_arguments, check_graft_limits, check_validation_split
from .errors import GraftError, Status

ALLOWED_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# Images the library reads at a time for an unbatched dataset (batch_size=None).
UNBATCHED_READ = 32


class ImageDataset:
    """Images (and their labels) handed out in batches by libgraft.

    Iterating gives one pass (an epoch): `(images, labels)` pairs, images a
    float32 array (n, height, width, channels) of values 0..255 (RGB, or
    gray or RGBA for color_mode "grayscale" or "rgba"), labels int32
    class indices (n,), with label_mode="categorical" float32 one-hot
    (n, classes), with label_mode="binary" float32 0 or 1 (n, 1); a dataset
    without labels (label_mode=None) gives the images alone. An unbatched
    dataset (batch_size=None) gives one image (and label) at a time, without
    the batch axis. Each pass is reshuffled when the dataset shuffles. Images
    are decoded and resized on the library's threads ahead of the loop.
    Each iterator is a pass of its own, as with tf.data: `zip(ds, ds)` pairs
    two whole passes, and threads iterating at once each get every batch.
    """

    def __init__(self, handle: ctypes.c_void_p, batch_size: Optional[int], label_mode: Optional[str]) -> None:
        self._handle = handle
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self.label_mode = label_mode
        library = _lib.lib
        self.class_names: Optional[List[str]] = [
            library.graft_dataset_class_name(handle, i).decode()
            for i in range(library.graft_dataset_class_count(handle))] if label_mode is not None else None
        size = library.graft_dataset_size(handle)
        paths = [library.graft_dataset_file_path(handle, i) for i in range(size)]
        self.file_paths = [p.decode() for p in paths] if paths and paths[0] is not None else []
        height, width = ctypes.c_int32(), ctypes.c_int32()
        _lib.check(library.graft_dataset_image_shape(handle, ctypes.byref(height), ctypes.byref(width)))
        self.image_size = (height.value, width.value)
        #: Channels of the images: 3 (RGB), 1 (grayscale) or 4 (RGBA).
        self.channels = library.graft_dataset_channels(handle)

    def __len__(self) -> int:
        """Batches in one pass (images, unbatched), as len() of a tf.data.Dataset."""
        if self.batch_size is None:
            return self.cardinality
        return _lib.lib.graft_dataset_batch_count(self._live_handle())

    @property
    def cardinality(self) -> int:
        """Images in the dataset."""
        return _lib.lib.graft_dataset_size(self._live_handle())

    @property
    def labels(self) -> Optional[np.ndarray]:
        """Class index of every image, in `file_paths` order (None without labels)."""
        if self.label_mode is None:
            return None
        handle = self._live_handle()
        return np.array([_lib.lib.graft_dataset_label(handle, i) for i in range(self.cardinality)],
                        dtype=np.int32)

    def __iter__(self) -> Iterator[Union[Tuple[np.ndarray, np.ndarray], np.ndarray]]:
        for images, labels in self._batches():
            formatted = self._format_labels(labels)
            if self.batch_size is not None:
                yield images if formatted is None else (images, formatted)
                continue
            for i in range(images.shape[0]):
                yield images[i] if formatted is None else (images[i], formatted[i])

    def _batches(self) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """One pass of the library's batches, images and class indices."""
        iterator = ctypes.c_void_p()
        with self._lock:
            _lib.check(_lib.lib.graft_dataset_iterate(self._live_handle(), ctypes.byref(iterator)))
        try:
            height, width = self.image_size
            count = ctypes.c_int64()
            batch = self.batch_size or UNBATCHED_READ
            while True:
                images = np.empty((batch, height, width, self.channels), dtype=np.float32)
                labels = np.empty((batch,), dtype=np.int32)
                _lib.check(_lib.lib.graft_dataset_iterator_next(
                    iterator, images.ctypes.data, labels.ctypes.data, ctypes.byref(count)))
                n = count.value
                if n == 0:
                    return
                yield images[:n], labels[:n]
        finally:
            _lib.lib.graft_dataset_iterator_free(iterator)

    def _format_labels(self, labels: np.ndarray) -> Optional[np.ndarray]:
        """Class indices as label_mode hands them out (None: no labels)."""
        if self.label_mode is None:
            return None
        if self.label_mode == "categorical":
            return np.eye(len(self.class_names), dtype=np.float32)[labels]
        if self.label_mode == "binary":
            return labels.astype(np.float32).reshape(-1, 1)
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
        if label_mode == "binary" and num_classes != 2:
            raise ValueError(f'label_mode="binary" needs exactly 2 classes, received num_classes={num_classes}')
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
             pad_to_aspect_ratio: bool = False, follow_links: bool = False, interpolation: str = "bilinear",
             color_mode: str = "rgb", skip_corrupt_files: bool = False, threads: int = 0,
             max_image_pixels: Optional[int] = None) -> _lib.graft_dataset_options:
    """A graft_dataset_options from Keras's arguments, checked for type."""
    if label_mode not in _lib.LABEL_MODE:
        raise ValueError(f'label_mode must be "int", "categorical" or "binary", received: {label_mode!r}')
    if subset not in _lib.SUBSET:
        raise ValueError(f'subset must be "training", "validation" or "both", received: {subset!r}')
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise ValueError(f"batch_size must be an integer, received: {batch_size!r}")
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
    options.pad_to_aspect_ratio = int(bool(pad_to_aspect_ratio))
    options.interpolation = _lib.INTERPOLATION[interpolation]
    options.color_mode = _lib.COLOR_MODE[color_mode]
    options.follow_links = int(bool(follow_links))
    options.skip_corrupt_files = int(bool(skip_corrupt_files))
    options.num_threads = threads
    if max_image_pixels is not None:
        options.max_image_pixels = max_image_pixels
    return options


def image_dataset_from_directory(
        directory: Union[str, os.PathLike], labels: Union[str, Sequence[int], None] = "inferred",
        label_mode: Optional[str] = "int", class_names: Optional[Sequence[str]] = None, color_mode: str = "rgb",
        batch_size: Optional[int] = 32, image_size: Union[int, Tuple[int, int]] = (256, 256), shuffle: bool = True,
        seed: Optional[int] = None, validation_split: Optional[float] = None, subset: Optional[str] = None,
        interpolation: str = "bilinear", follow_links: bool = False, crop_to_aspect_ratio: bool = False,
        pad_to_aspect_ratio: bool = False, data_format: Optional[str] = None, format: str = "tf",
        verbose: bool = True, *, skip_corrupt_files: bool = False, threads: int = 0,
        max_image_pixels: Optional[int] = None,
) -> Union[ImageDataset, Tuple[ImageDataset, ImageDataset]]:
    """Keras's `image_dataset_from_directory`, computed by libgraft.

    Same arguments, defaults, file order, split and pixels as Keras, and
    Keras's errors (ValueError, with Keras's words). `labels` is "inferred"
    (one sub-folder per class), None (images only) or a list of labels in
    Keras's file order; label_mode "int", "categorical", "binary" or None.
    color_mode "rgb", "grayscale" or "rgba", each decoded as TensorFlow
    decodes it (Graft's models take RGB). Where Graft differs, it says so in
    a ValueError: it supports channels_last and format="tf" (the dataset is
    Graft's own, iterated as numpy arrays). `skip_corrupt_files`
    (Graft's addition) drops unreadable images with a warning instead of
    raising; `threads` sets the decoding threads (0: one per core); images of
    more pixels than `max_image_pixels` (None: the library's default, PIL's
    MAX_IMAGE_PIXELS) are refused before they are decoded, as corrupt files are.

    Returns an `ImageDataset`, or (training, validation) for subset="both".
    """
    labels, label_mode, image_size, interpolation = check_arguments(
        labels, label_mode, class_names, color_mode, image_size, interpolation, format)
    check_validation_split(validation_split, subset, shuffle, seed)
    path = os.fsencode(directory)
    options = _options(image_size=image_size, batch_size=UNBATCHED_READ if batch_size is None else batch_size,
                       shuffle=shuffle, seed=seed, validation_split=validation_split or None,
                       subset=None if subset == "both" else subset, label_mode=label_mode or "int",
                       class_names=class_names, crop_to_aspect_ratio=crop_to_aspect_ratio,
                       pad_to_aspect_ratio=pad_to_aspect_ratio, follow_links=follow_links,
                       interpolation=interpolation, color_mode=color_mode, skip_corrupt_files=skip_corrupt_files,
                       threads=threads, max_image_pixels=max_image_pixels)
    _set_label_source(options, labels)
    if subset == "both":
        training, validation = ctypes.c_void_p(), ctypes.c_void_p()
        _lib.check(_lib.lib.graft_dataset_from_directory_split(
            path, ctypes.byref(options), ctypes.byref(training), ctypes.byref(validation)))
        datasets = (ImageDataset(training, batch_size, label_mode), ImageDataset(validation, batch_size, label_mode))
        check_graft_limits(data_format, format)
        if verbose:
            _print_found(datasets[0].cardinality + datasets[1].cardinality, datasets[0].class_names)
            print(f"Using {datasets[0].cardinality} files for training.")
            print(f"Using {datasets[1].cardinality} files for validation.")
        return datasets
    handle = ctypes.c_void_p()
    _lib.check(_lib.lib.graft_dataset_from_directory(path, ctypes.byref(options), ctypes.byref(handle)))
    dataset = ImageDataset(handle, batch_size, label_mode)
    check_graft_limits(data_format, format)
    if verbose:
        if subset is None:
            _print_found(dataset.cardinality, dataset.class_names)
        else:
            print(f"Using {dataset.cardinality} files for {subset}.")
    return dataset


def _set_label_source(options: _lib.graft_dataset_options, labels: Union[str, Sequence[int], None]) -> None:
    """Keras's `labels` into the options: inferred, none, or a list (kept
    alive by the options until the call reads it)."""
    if labels == "inferred":
        return
    if labels is None:
        options.label_source = _lib.LABEL_SOURCE[None]
        return
    values = np.asarray(labels)
    if values.ndim != 1 or (values.size and not np.issubdtype(values.dtype, np.integer)):
        raise ValueError(f"`labels` must be a list of integer labels, received: {labels}")
    if values.size and not (-2**31 <= values.min() and values.max() <= 2**31 - 1):
        raise ValueError(f"`labels` must be the class indices 0, 1, ..., k-1, received values from {values.min()} "
                         f"to {values.max()}")
    array = (ctypes.c_int32 * len(values))(*values.tolist())
    options.label_source = _lib.LABEL_SOURCE["list"]
    options.label_list = array
    options.label_list_count = len(values)


def _print_found(count: int, class_names: Optional[List[str]]) -> None:
    """Keras's line on what the listing found."""
    if class_names is None:
        print(f"Found {count} files.")
    else:
        print(f"Found {count} files belonging to {len(class_names)} classes.")
