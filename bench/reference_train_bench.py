#!/usr/bin/env python3
"""Time Keras's training for `make bench`: one step, or a workflow's fit.

Usage:
  .venv/bin/python bench/reference_train_bench.py --mode step_frozen|step_last10|step_full
      --weights PATH.h5 [--batch 32] [--size 100] [--threads 2] [--warmup 2] [--reps 5]
  .venv/bin/python bench/reference_train_bench.py --mode fit --dir FOLDER
      --weights PATH.h5 [--epochs 3] [--augmentation SPEC] [--unfreeze-last N]
      [--batch 32] [--size 100] [--threads 2]

The model is the seed workflow's: caffe preprocessing, the ResNet50 base called
with training=False, GlobalAveragePooling2D, Dense(classes) logits, Adam,
sparse categorical cross-entropy from logits. A step is what a user who wants
BatchNormalization in inference mode runs: a tf.function with GradientTape and
model(x, training=False). fit is a workflow's phase end to end: the two
datasets of image_dataset_from_directory (25% validation), the augmentation
layers of --augmentation (graft's text for them: flip:MODE, rotation:F,
zoom:F, or a flip mode alone), the base frozen or (--unfreeze-last N) its last N layers
trainable, and model.fit. (keras 3.15.1's fit then runs those layers'
BatchNormalization in training mode; the work is the same.)
Prints one JSON line, with the same fields as `graft-bench train` / `fit`.
"""

import argparse
import contextlib
import json
import os
import resource
import statistics
import sys
import time


def keras_augmentation(keras, spec):
    """Keras's layers for graft's --augmentation text, in the forms the bench uses."""
    if spec == "none":
        return []
    if spec in ("horizontal", "vertical", "horizontal_and_vertical"):
        return [keras.layers.RandomFlip(spec)]
    layers = []
    for part in spec.split(","):
        kind, argument = part.split(":")
        if kind == "flip":
            layers.append(keras.layers.RandomFlip(argument))
        elif kind == "rotation":
            layers.append(keras.layers.RandomRotation(float(argument)))
        elif kind == "zoom":
            layers.append(keras.layers.RandomZoom(float(argument)))
        else:
            sys.exit(f"reference_train_bench.py: no Keras layer for {part!r} here")
    return layers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mode", required=True,
                        choices=["step_frozen", "step_last10", "step_full", "fit"])
    parser.add_argument("--weights")
    parser.add_argument("--dir")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--augmentation", default="none")
    parser.add_argument("--unfreeze-last", type=int, default=0)
    args = parser.parse_args()

    # Read when TensorFlow starts; the fit needs inter-op threads for its pipeline.
    fit = args.mode == "fit"
    os.environ["TF_NUM_INTRAOP_THREADS"] = str(args.threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = str(args.threads if fit else 1)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads if fit else 1)

    # Class folders as image_dataset_from_directory counts them: directories only
    # (make_images.py leaves a STAMP file beside them).
    classes = len([d for d in os.listdir(args.dir)
                   if not d.startswith(".") and os.path.isdir(os.path.join(args.dir, d))]) if fit else 10
    base = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(args.size, args.size, 3))
    if args.weights:
        base.load_weights(args.weights)
    inputs = keras.Input((args.size, args.size, 3))
    x = inputs
    for layer in keras_augmentation(keras, args.augmentation) if fit else []:
        x = layer(x)
    x = keras.applications.resnet.preprocess_input(x)
    x = base(x, training=False)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(classes)(x))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    if fit:
        base.trainable = args.unfreeze_last > 0
        for layer in base.layers[:len(base.layers) - args.unfreeze_last]:
            layer.trainable = False
        model.compile(optimizer=keras.optimizers.Adam(), loss=loss_fn, metrics=["accuracy"])
        start = time.perf_counter()
        # Keras prints "Using N files for ..." even with verbose=False: keep stdout to the JSON line.
        with contextlib.redirect_stdout(sys.stderr):
            train, val = keras.utils.image_dataset_from_directory(
                args.dir, validation_split=0.25, subset="both", seed=1, image_size=(args.size, args.size),
                batch_size=args.batch, verbose=False)
        history = model.fit(train, validation_data=val, epochs=args.epochs, verbose=0)
        seconds = time.perf_counter() - start
        images = len(train.file_paths)
        print(json.dumps({"engine": "keras", "mode": args.mode, "seconds": seconds, "images": images,
                          "epochs": args.epochs, "final_val_accuracy": history.history["val_accuracy"][-1],
                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
        return

    base.trainable = args.mode != "step_frozen"
    if args.mode == "step_last10":
        for layer in base.layers[:-10]:
            layer.trainable = False
    optimizer = keras.optimizers.Adam()

    @tf.function
    def step(images, labels):
        with tf.GradientTape() as tape:
            loss = loss_fn(labels, model(images, training=False))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        return loss

    rng = np.random.default_rng(42)
    images = tf.constant(rng.uniform(0, 255, (args.batch, args.size, args.size, 3)).astype(np.float32))
    labels = tf.constant(np.arange(args.batch) % classes)
    for _ in range(args.warmup):
        step(images, labels).numpy()
    times = []
    for _ in range(args.reps):
        start = time.perf_counter()
        step(images, labels).numpy()
        times.append(time.perf_counter() - start)
    print(json.dumps({"engine": "keras", "mode": args.mode,
                      "images_per_s": args.batch / statistics.median(times), "seconds_per_step": times,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


if __name__ == "__main__":
    main()
