#!/usr/bin/env python3
"""The beans workflow, step by step, with Graft's Keras-shaped Python API.

A Keras user's script, with graft in place of keras: random flips, a frozen
ResNet50 base and a new head trained with Adam; then the last residual block
(the base's last 10 layers) fine-tuned with a small learning rate, one
EarlyStopping watching both phases; the test accuracy at the end.

    python examples/python/beans.py DATA_DIR WEIGHTS [--image-size 100]
        [--batch-size 128] [--epochs 20] [--fine-tune-epochs 5]
        [--plot CURVES.png] [--save MODEL.h5]

DATA_DIR holds train/ and test/ (one sub-folder of images per class in each);
validation/ is used for validation when it exists, else 25% of train/ is held
out (seed 417). WEIGHTS is the path of
resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5, "imagenet" (that file,
found in $GRAFT_WEIGHTS_DIR or ~/.keras/models; nothing is downloaded), or
"random" (Keras's random initialisation). --plot draws the accuracy and loss
curves of both phases (needs matplotlib); --save writes the trained model and
reads it back.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, help="folder with train/ and test/ (and maybe validation/)")
    parser.add_argument("weights", help='a Keras ResNet50 notop .h5 file, "imagenet" or "random"')
    parser.add_argument("--image-size", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=20, help="epochs with the base frozen")
    parser.add_argument("--fine-tune-epochs", type=int, default=5, help="epochs with the last block unfrozen")
    parser.add_argument("--plot", metavar="CURVES.png", help="draw the accuracy and loss curves there")
    parser.add_argument("--save", metavar="MODEL.h5", help="save the trained model there, then load it")
    args = parser.parse_args()
    size = (args.image_size, args.image_size)
    weights = None if args.weights == "random" else args.weights
    print(f"Graft {graft.library_version()}")

    # The data: Keras's image_dataset_from_directory, same arguments.
    if (args.data_dir / "validation").is_dir():
        train = graft.image_dataset_from_directory(args.data_dir / "train", label_mode="categorical",
                                                   image_size=size, batch_size=args.batch_size, seed=417)
        val = graft.image_dataset_from_directory(args.data_dir / "validation", label_mode="categorical",
                                                 image_size=size, batch_size=args.batch_size, seed=417)
    else:
        train, val = graft.image_dataset_from_directory(
            args.data_dir / "train", label_mode="categorical", image_size=size, batch_size=args.batch_size,
            validation_split=0.25, subset="both", seed=417)
    test = graft.image_dataset_from_directory(args.data_dir / "test", label_mode="categorical",
                                              image_size=size, batch_size=args.batch_size, shuffle=False)
    print("classes:", ", ".join(train.class_names))

    # base = keras.applications.ResNet50(include_top=False, weights=..., input_shape=(100, 100, 3))
    base = graft.applications.ResNet50(include_top=False, weights=weights, input_shape=(*size, 3))
    print("weights:", args.weights if weights is not None else "random (Keras's initialisers)")

    # RandomFlip("horizontal_and_vertical") -> preprocess_input -> base(x, training=False)
    #   -> GlobalAveragePooling2D -> Dense(num_classes), logits
    model = graft.TransferModel(base, num_classes=len(train.class_names), preprocessing="caffe",
                                pooling="avg", augmentation="horizontal_and_vertical")

    # One EarlyStopping for both phases, as Keras users write it: it starts
    # afresh with each fit, and puts back the best epoch's weights.
    early_stopping = graft.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    # The datasets' labels are one-hot (label_mode="categorical").
    loss = graft.losses.CategoricalCrossentropy(from_logits=True)

    # 1. The base frozen, the head trains.
    base.trainable = False
    model.compile(optimizer=graft.optimizers.Adam(), loss=loss, metrics=["accuracy"])
    print("\n1. the base frozen, the head trains (Adam)")
    history = model.fit(train, epochs=args.epochs, validation_data=val, callbacks=[early_stopping])
    print_history(history)
    frozen = history

    # 2. The last residual block fine-tunes (Keras: the base's last 10
    # layers), its epochs counted on from the first phase's (Keras's
    # transfer-learning guide: initial_epoch).
    base.trainable = True
    for layer in base.layers[:-10]:
        layer.trainable = False
    model.compile(optimizer=graft.optimizers.Adam(learning_rate=1e-5), loss=loss, metrics=["accuracy"])
    print(f"\n2. fine-tuning from {base.layers[-10].name} (the last 10 layers of the base), Adam(1e-5)")
    history = model.fit(train, epochs=len(frozen.epoch) + args.fine_tune_epochs, initial_epoch=len(frozen.epoch),
                        validation_data=val, callbacks=[early_stopping])
    print_history(history)

    loss, accuracy = model.evaluate(test)
    print(f"\ntest: {test.cardinality} images, loss {loss:.4f}, accuracy {accuracy:.4f}")

    if args.plot:
        # Both phases on one chart: the frozen epochs, then the fine-tuning ones.
        curves = {name: frozen.history[name] + history.history[name] for name in history.history}
        graft.plot_history(curves, args.plot, title="beans: frozen base, then the last block")
        print(f"curves: {args.plot}")

    if args.save:
        # model.save("beans.h5"); model = keras.models.load_model("beans.h5")
        model.save(args.save)
        loaded = graft.load_model(args.save)
        loaded_loss, loaded_accuracy = loaded.evaluate(test, verbose=0)
        print(f"saved the model to {args.save}; loaded back, its test accuracy is {loaded_accuracy:.4f}")
        if (loaded_loss, loaded_accuracy) != (loss, accuracy):
            sys.exit("error: the loaded model does not compute what the saved one did")


if __name__ == "__main__":
    main()
