#!/usr/bin/env python3
"""Time Keras's image_dataset_from_directory: list, decode, resize, batch.

Usage: .venv/bin/python bench/reference_data_bench.py --dir FOLDER [--batch 32]
           [--size 100] [--threads 2] [--reps 3]

Builds the dataset and iterates it to the end, as Graft's `graft-bench
pipeline` does, once to warm the file cache and then --reps times. Prints one
JSON line: {"engine", "images_per_s" (median), "seconds_per_pass", "images",
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
    parser.add_argument("--dir", required=True)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()

    start_tensorflow(args.threads)
    import keras

    def one_pass():
        dataset = keras.utils.image_dataset_from_directory(
            args.dir, batch_size=args.batch, image_size=(args.size, args.size), seed=1, verbose=False)
        return sum(int(images.shape[0]) for images, _ in dataset)

    one_pass()
    times = []
    for _ in range(args.reps):
        start = time.perf_counter()
        images = one_pass()
        times.append(time.perf_counter() - start)
    print(json.dumps({
        "engine": "keras",
        "images_per_s": images / statistics.median(times),
        "seconds_per_pass": times,
        "images": images,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


if __name__ == "__main__":
    main()
