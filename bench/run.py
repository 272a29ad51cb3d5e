#!/usr/bin/env python3
"""`make bench`: Graft, Keras and ONNX Runtime side by side, in one run.

Three tables: the ResNet50 base's inference; the data pipeline
(image_dataset_from_directory: list, decode, resize, batch); training (one
step with the base frozen, its last block unfrozen, all of it unfrozen, and
the seed workflows' phases end to end: fits with validation, from JPEG files).

Every engine runs in its own process (so one's threads and memory never touch
another's), on the same weights and input size, with the same thread count.
The engines take turns, round after round (Graft, Keras, ONNX, Graft, ...), so
that a slow spell of the machine hits all of them; each process warms up, then
times several batches. The table reports the median over all timed batches of
every round, the ratio to Keras measured in the same run, and GFLOP/s beside
the OpenBLAS sgemm peak measured in the same run.

Usage: .venv/bin/python bench/run.py [--weights .fixtures/model/resnet50_random.h5]
           [--rounds 3] [--batch 32] [--size 100] [--threads 2]
"""

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GRAFT_BENCH = REPO / ".build" / "release" / "graft-bench"
REFERENCE_BENCH = REPO / "bench" / "reference_bench.py"
REFERENCE_DATA_BENCH = REPO / "bench" / "reference_data_bench.py"
REFERENCE_TRAIN_BENCH = REPO / "bench" / "reference_train_bench.py"
TRAIN_STEPS = [("step_frozen", "base frozen"), ("step_last10", "last 10 layers unfrozen"),
               ("step_full", "whole base unfrozen")]
MAKE_IMAGES = REPO / "bench" / "make_images.py"
# The seed workflows' phases end to end, loading included, once each:
# (label, JPEG files, their size, fit options). Fruits-360's frozen phase on
# 100x100 photos; beans' frozen phase (flips, 20 epochs) and a fine-tuning of
# the last residual block on 500x500 photos resized to 100x100.
FIT_ROWS = [
    ("frozen-base fit, 3 epochs", 2000, "100x100", ["--epochs", "3"]),
    ("beans-style fit: flips, 20 epochs", 1000, "500x500",
     ["--epochs", "20", "--flip", "horizontal_and_vertical"]),
    ("last 10 layers unfrozen, 5 epochs", 1000, "500x500", ["--epochs", "5", "--unfreeze-last", "10"]),
]
# JPEG folders for the pipeline: Fruits-360-like (100x100 photos) and
# beans-like (500x500 photos), both resized to 100x100.
PIPELINE_SETS = [("2,000 JPEGs 100x100", 2000, "100x100"), ("500 JPEGs 500x500", 500, "500x500")]

# ResNet50 without its top at 100x100: 0.947 G multiply-adds per image
# (KERAS-REFERENCE.md), i.e. 1.894 GFLOP. Other sizes scale with the pixels
# only approximately, so the figure is printed for 100x100 alone.
GFLOP_PER_IMAGE_100 = 2 * 0.947


def run_json(command):
    """Run one benchmark process and return the JSON line it prints."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"benchmark failed: {' '.join(map(str, command))}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def inference_table(args):
    common = ["--weights", args.weights, "--batch", str(args.batch), "--size", str(args.size),
              "--threads", str(args.threads), "--warmup", "2", "--reps", str(args.reps)]
    engines = {
        "Graft": [str(GRAFT_BENCH), "inference"] + common,
        "Keras": [sys.executable, str(REFERENCE_BENCH), "--engine", "keras"] + common,
        "ONNX Runtime": [sys.executable, str(REFERENCE_BENCH), "--engine", "onnx"] + common,
    }
    # The ONNX export is cached next to the weights: make it before timing.
    run_json(engines["ONNX Runtime"][:-4] + ["--warmup", "0", "--reps", "1"])

    sgemm = [run_json([str(GRAFT_BENCH), "sgemm", "--threads", str(args.threads)])["gflops"]]
    times = {name: [] for name in engines}
    rss = {name: 0.0 for name in engines}
    for round_index in range(args.rounds):
        for name, command in engines.items():
            result = run_json(command)
            times[name] += result["seconds_per_batch"]
            rss[name] = max(rss[name], result["peak_rss_mb"])
            print(f"round {round_index + 1}: {name:13s} {result['images_per_s']:7.1f} images/s",
                  file=sys.stderr)
        sgemm.append(run_json([str(GRAFT_BENCH), "sgemm", "--threads", str(args.threads)])["gflops"])

    sgemm_peak = statistics.median(sgemm)
    images_per_s = {name: args.batch / statistics.median(t) for name, t in times.items()}
    print()
    print(f"ResNet50 base inference, batch {args.batch}, {args.size}x{args.size}, {args.threads} threads; "
          f"medians of {args.rounds} rounds x {args.reps} batches")
    print(f"OpenBLAS sgemm 2048^3 in the same run: {sgemm_peak:.0f} GFLOP/s")
    print()
    # GFLOP/s counts the direct convolution's multiply-adds; Graft's Winograd
    # layers do fewer, so its figure can pass the sgemm peak.
    print("| engine | images/s | vs Keras | GFLOP/s (direct-conv count) | of sgemm peak | peak RSS |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in engines:
        ips = images_per_s[name]
        ratio = ips / images_per_s["Keras"]
        if args.size == 100:
            gflops = ips * GFLOP_PER_IMAGE_100
            flops_cells = f"{gflops:.0f} | {100 * gflops / sgemm_peak:.0f}%"
        else:
            flops_cells = "- | -"
        print(f"| {name} | {ips:.1f} | {ratio:.2f}x | {flops_cells} | {rss[name]:.0f} MB |")


def pipeline_table(args):
    rows = []
    for label, count, size in PIPELINE_SETS:
        folder = REPO / ".fixtures" / "bench" / f"jpeg_{count}_{size}"
        subprocess.run([sys.executable, str(MAKE_IMAGES), str(folder), "--count", str(count), "--size", size],
                       check=True)
        common = ["--dir", str(folder), "--batch", str(args.batch), "--size", str(args.size),
                  "--threads", str(args.threads), "--reps", "3"]
        engines = {"Graft": [str(GRAFT_BENCH), "pipeline"] + common,
                   "Keras": [sys.executable, str(REFERENCE_DATA_BENCH)] + common}
        times = {name: [] for name in engines}
        images = 0
        for round_index in range(args.rounds):
            for name, command in engines.items():
                result = run_json(command)
                times[name] += result["seconds_per_pass"]
                images = result["images"]
                print(f"round {round_index + 1}: {label}: {name:6s} {result['images_per_s']:8.1f} images/s",
                      file=sys.stderr)
        rates = {name: images / statistics.median(t) for name, t in times.items()}
        rows.append((label, rates["Graft"], rates["Keras"]))
    print()
    print(f"image_dataset_from_directory to {args.size}x{args.size}, batch {args.batch}, {args.threads} threads; "
          f"medians of {args.rounds} rounds x 3 passes (file cache warm)")
    print()
    print("| images | Graft images/s | Keras images/s | Graft / Keras |")
    print("| --- | ---: | ---: | ---: |")
    for label, graft, keras in rows:
        print(f"| {label} | {graft:.0f} | {keras:.0f} | {graft / keras:.2f}x |")


def training_table(args):
    common = ["--weights", args.weights, "--batch", str(args.batch), "--size", str(args.size),
              "--threads", str(args.threads)]
    rows = []
    for mode, label in TRAIN_STEPS:
        # The whole-base step takes seconds: fewer repetitions keep the run short.
        reps = ["--warmup", "1", "--reps", "2" if mode == "step_full" else "4"]
        engines = {"Graft": [str(GRAFT_BENCH), "train", "--mode", mode] + common + reps,
                   "Keras": [sys.executable, str(REFERENCE_TRAIN_BENCH), "--mode", mode] + common + reps}
        times = {name: [] for name in engines}
        rss = {name: 0.0 for name in engines}
        for round_index in range(max(1, args.rounds - 1)):
            for name, command in engines.items():
                result = run_json(command)
                times[name] += result["seconds_per_step"]
                rss[name] = max(rss[name], result["peak_rss_mb"])
                print(f"round {round_index + 1}: {label}: {name:6s} {result['images_per_s']:7.1f} images/s",
                      file=sys.stderr)
        rates = {name: args.batch / statistics.median(t) for name, t in times.items()}
        rows.append((f"one Adam step, {label}", rates, rss))

    fits = []
    for label, count, size, extra in FIT_ROWS:
        folder = REPO / ".fixtures" / "bench" / f"jpeg_{count}_{size}_c4"
        subprocess.run([sys.executable, str(MAKE_IMAGES), str(folder), "--count", str(count), "--size", size,
                        "--classes", "4"], check=True)
        fit = ["--dir", str(folder), "--weights", args.weights, "--batch", str(args.batch),
               "--size", str(args.size), "--threads", str(args.threads)] + extra
        results = {"Graft": run_json([str(GRAFT_BENCH), "fit"] + fit),
                   "Keras": run_json([sys.executable, str(REFERENCE_TRAIN_BENCH), "--mode", "fit"] + fit)}
        for name, result in results.items():
            print(f"{label}: {name:6s} {result['seconds']:7.1f} s", file=sys.stderr)
        fits.append((label, count, results))
    print()
    print(f"Training, batch {args.batch}, {args.size}x{args.size}, {args.threads} threads "
          "(GAP + Dense head, Adam; Keras steps as tf.function with training=False)")
    print()
    print("| measure | Graft | Keras | Graft / Keras | peak RSS Graft / Keras |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, rates, rss in rows:
        print(f"| {label}, images/s | {rates['Graft']:.1f} | {rates['Keras']:.1f} | "
              f"{rates['Graft'] / rates['Keras']:.2f}x | {rss['Graft']:.0f} / {rss['Keras']:.0f} MB |")
    for label, count, results in fits:
        graft, keras = results["Graft"], results["Keras"]
        print(f"| {label}, {count:,} JPEGs (25% for validation), seconds | {graft['seconds']:.1f} | "
              f"{keras['seconds']:.1f} | {keras['seconds'] / graft['seconds']:.2f}x faster | "
              f"{graft['peak_rss_mb']:.0f} / {keras['peak_rss_mb']:.0f} MB |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=str(REPO / ".fixtures" / "model" / "resnet50_random.h5"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5, help="timed batches per inference process")
    parser.add_argument("--only", choices=["inference", "pipeline", "training"], help="run one table only")
    args = parser.parse_args()
    if args.only in (None, "inference"):
        inference_table(args)
    if args.only in (None, "pipeline"):
        pipeline_table(args)
    if args.only in (None, "training"):
        training_table(args)


if __name__ == "__main__":
    main()
