#!/usr/bin/env python3
"""The Fruits-360 workflow, step by step, with Graft's Keras-shaped Python API.

A Keras user's script, with graft in place of keras: a frozen ResNet50 base
and a new head trained with SGD; then the whole base fine-tuned with a small
learning rate; the test accuracy and a few predictions at the end.

    python examples/python/fruits360.py DATA_DIR WEIGHTS [--image-size 100]
        [--batch-size 256] [--epochs 3] [--fine-tune-epochs 5] [--save MODEL.h5]

DATA_DIR holds Training/ and Test/ (as Fruits-360 unpacks) or train/ and
test/, one sub-folder of images per class in each; 25% of the training folder
is held out for validation (seed 417). WEIGHTS is the path of
resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5, "imagenet" (that file,
found in $GRAFT_WEIGHTS_DIR or ~/.keras/models; nothing is downloaded), or
"random" (Keras's random initialisation).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

try:
    import graft
except ImportError:  # not installed (pip install ./bindings/python): use this checkout's package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bindings" / "python"))
    import graft


def print_history(history: graft.History) -> None:
    """Keras's history.history, one line per epoch, as the library writes it."""
    print(graft.history_text(history), end="")


def sub_folder(data_dir: Path, *names: str) -> Path:
    """The first of data_dir/name that is a folder."""
    for name in names:
        if (data_dir / name).is_dir():
            return data_dir / name
    sys.exit(f"error: {data_dir} must hold one of the folders {', '.join(names)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="folder with Training/ and Test/ (or train/ and test/)")
    parser.add_argument("weights", help='a Keras ResNet50 notop .h5 file, "imagenet" or "random"')
    parser.add_argument("--image-size", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3, help="epochs with the base frozen")
    parser.add_argument("--fine-tune-epochs", type=int, default=5, help="epochs with the whole base unfrozen")
    parser.add_argument("--save", metavar="MODEL.h5", help="save the trained model there")
    args = parser.parse_args()
    size = (args.image_size, args.image_size)
    weights = None if args.weights == "random" else args.weights
    train_dir = sub_folder(args.data_dir, "Training", "train")
    test_dir = sub_folder(args.data_dir, "Test", "test")
    print(f"Graft {graft.library_version()}")

    # The data: Keras's image_dataset_from_directory, same arguments.
    train, val = graft.image_dataset_from_directory(
        train_dir, label_mode="categorical", image_size=size, batch_size=args.batch_size,
        validation_split=0.25, subset="both", seed=417)
    test = graft.image_dataset_from_directory(test_dir, label_mode="categorical", image_size=size,
                                              batch_size=args.batch_size, shuffle=False)

    # base = keras.applications.ResNet50(include_top=False, weights=..., input_shape=(100, 100, 3))
    base = graft.applications.ResNet50(include_top=False, weights=weights, input_shape=(*size, 3))
    print("weights:", args.weights if weights is not None else "random (Keras's initialisers)")

    # preprocess_input -> base(x, training=False) -> GlobalAveragePooling2D -> Dense(num_classes)
    model = graft.TransferModel(base, num_classes=len(train.class_names), preprocessing="caffe",
                                pooling="avg")

    # 1. The base frozen, the head trains.
    base.trainable = False
    model.compile(optimizer=graft.optimizers.SGD())
    print("\n1. the base frozen, the head trains (SGD)")
    history = model.fit(train, epochs=args.epochs, validation_data=val)
    print_history(history)

    # 2. The whole base fine-tunes (its BatchNormalization keeps its moving statistics).
    base.trainable = True
    model.compile(optimizer=graft.optimizers.SGD(learning_rate=1e-4))
    print("\n2. the whole base fine-tunes, SGD(1e-4)")
    history = model.fit(train, epochs=args.fine_tune_epochs, validation_data=val)
    print_history(history)

    loss, accuracy = model.evaluate(test)
    print(f"\ntest: {test.cardinality} images, loss {loss:.4f}, accuracy {accuracy:.4f}")

    # logits = model.predict(images): RGB pixels 0..255, preprocessing inside.
    images, labels = next(iter(test))
    logits = model.predict(images[:5])
    print("predictions:")
    for path, predicted, true in zip(test.file_paths, logits.argmax(axis=1), labels.argmax(axis=1)):
        print(f"  {path}: {train.class_names[predicted]} (true: {test.class_names[true]})")

    if args.save:
        model.save(args.save)
        print(f"saved the model to {args.save}")


if __name__ == "__main__":
    main()
