"""A pytest plugin that puts Graft behind Keras's own image_dataset_from_directory.

Loaded with `-p graft_keras_adapter` into a run of Keras's test file
(keras/src/utils/image_dataset_utils_test.py), it replaces the function the
tests call with one that forwards every argument to
graft.image_dataset_from_directory and hands Graft's batches out as a
tf.data.Dataset (with class_names and file_paths, as Keras's has), so that
Keras's assertions run on Graft's data and Graft's errors.
"""

from __future__ import annotations

import tensorflow as tf
from keras.src.utils import image_dataset_utils

import graft


def _as_tf_dataset(dataset: graft.ImageDataset) -> tf.data.Dataset:
    """Graft's dataset as a tf.data.Dataset of the same elements."""
    height, width = dataset.image_size
    batch = () if dataset.batch_size is None else (None,)
    images = tf.TensorSpec(batch + (height, width, dataset.channels), tf.float32)
    labels = {"int": tf.TensorSpec(batch, tf.int32),
              "categorical": tf.TensorSpec(batch + (len(dataset.class_names or ()),), tf.float32),
              "binary": tf.TensorSpec(batch + (1,), tf.float32)}.get(dataset.label_mode)
    signature = images if labels is None else (images, labels)
    wrapped = tf.data.Dataset.from_generator(lambda: iter(dataset), output_signature=signature)
    wrapped.class_names = dataset.class_names
    wrapped.file_paths = dataset.file_paths
    wrapped.graft_dataset = dataset  # keeps the library's dataset alive with the wrapper
    return wrapped


def graft_image_dataset_from_directory(directory, **kwargs):
    result = graft.image_dataset_from_directory(directory, **kwargs)
    if isinstance(result, tuple):
        return tuple(_as_tf_dataset(d) for d in result)
    return _as_tf_dataset(result)


def pytest_configure(config) -> None:
    image_dataset_utils.image_dataset_from_directory = graft_image_dataset_from_directory
