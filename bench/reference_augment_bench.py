#!/usr/bin/env python3
"""Time Keras's augmentation layers alone, as `graft-bench augment` times Graft's.

Usage: .venv/bin/python bench/reference_augment_bench.py [--batch 32] [--size 100]
           [--threads 2] [--warmup 2] [--reps 10]

RandomFlip("horizontal_and_vertical"), RandomRotation(0.1) and
RandomZoom(0.1) (Keras's defaults otherwise: reflect, bilinear) in a
keras.Sequential, called with training=True inside a tf.function (Keras's
fastest path, as fit runs it) on a batch of random RGB images. Prints one
JSON line: {"engine", "images_per_s" (median), "seconds_per_batch",
"peak_rss_mb"}.
"""

import argparse
import json
import resource
import statistics
import time

from tensorflow_threads import start_tensorflow


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()

    tf = start_tensorflow(args.threads)
    import keras
    import numpy as np

    layers = keras.Sequential([keras.layers.RandomFlip("horizontal_and_vertical", seed=1),
                               keras.layers.RandomRotation(0.1, seed=2), keras.layers.RandomZoom(0.1, seed=3)])
    augment = tf.function(lambda x: layers(x, training=True))
    images = tf.constant(np.random.default_rng(42).uniform(0, 255, (args.batch, args.size, args.size, 3)),
                         dtype=tf.float32)
    for _ in range(args.warmup):
        augment(images).numpy()
    times = []
    for _ in range(args.reps):
        start = time.perf_counter()
        augment(images).numpy()
        times.append(time.perf_counter() - start)
    print(json.dumps({
        "engine": "keras",
        "images_per_s": args.batch / statistics.median(times),
        "seconds_per_batch": times,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
