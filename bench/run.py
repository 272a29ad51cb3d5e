#!/usr/bin/env python3
"""`make bench`: Graft, Keras, ONNX Runtime and OpenVINO side by side, in one run.

First the goals table: one row per goal of Graft's speed (the base's
inference; the seed workflows' phases end to end, loading included; the
whole base unfrozen), Graft, Keras, ONNX Runtime and OpenVINO (inference
only, in float32) side by side, ratios, GFLOP/s beside the OpenBLAS sgemm
peak, peak RSS, and the bar. Then the same inference and whole-base step
with every engine restricted to AVX2 (as on a CPU without AVX-512), the
supporting figures (the data pipeline, training steps with the base frozen
and its last layers unfrozen), the opt-in bfloat16 and int8 precisions,
data-parallel training over 2 processes (and a model of N machines), and
where Graft's time goes, stage by stage of ResNet50.

Every engine runs in its own process (so one's threads and memory never touch
another's), on the same weights and input size, with the same thread count.
The engines take turns, round after round (Graft, Keras, ONNX, OpenVINO, Graft, ...), so
that a slow spell of the machine hits all of them; each process warms up, then
times several batches; the tables report medians over all timed batches of
every round.

GFLOP/s counts the work as Keras does it: a direct convolution's
multiply-adds, every epoch computing the whole network forward for every
image (and backward for the trainable part). Graft does less than that work
where it can (Winograd, the feature cache), so its figure can pass the sgemm
peak: it is the work-equivalent rate.

Usage: .venv/bin/python bench/run.py [--weights .fixtures/model/resnet50_random.h5]
           [--rounds 3] [--batch 32] [--size 100] [--threads 2]
           [--only goals|avx2|supporting|bfloat16|int8|distributed|profile]
"""

import argparse
import json
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GRAFT_BENCH = REPO / ".build" / "release" / "graft-bench"
REFERENCE_BENCH = REPO / "bench" / "reference_bench.py"
REFERENCE_DATA_BENCH = REPO / "bench" / "reference_data_bench.py"
REFERENCE_TRAIN_BENCH = REPO / "bench" / "reference_train_bench.py"
REFERENCE_AUGMENT_BENCH = REPO / "bench" / "reference_augment_bench.py"
# The augmentation layers alone (RandomFlip, RandomRotation(0.1),
# RandomZoom(0.1)): the bar, times faster than Keras's layers.
AUGMENT_BAR = 5.0
MAKE_IMAGES = REPO / "bench" / "make_images.py"
# The seed workflows' phases end to end, loading included, once each:
# (label, JPEG files, their size, fit options, bar: times faster than Keras).
# Fruits-360's frozen phase on 100x100 photos; beans' frozen phase (flips, 20
# epochs; flips with rotations and zooms, which leave nothing to cache, 5
# epochs) and a fine-tuning of the last residual block on 500x500 photos
# resized to 100x100.
FIT_ROWS = [
    ("frozen-base fit, 3 epochs", 2000, "100x100", ["--epochs", "3"], 3.0),
    ("beans-style fit: flips, 20 epochs", 1000, "500x500",
     ["--epochs", "20", "--augmentation", "horizontal_and_vertical"], 5.0),
    ("beans-style fit: flip, rotation 0.1, zoom 0.1, 5 epochs", 1000, "500x500",
     ["--epochs", "5", "--augmentation", "flip:horizontal_and_vertical,rotation:0.1,zoom:0.1"], 3.0),
    ("last 10 layers unfrozen, 5 epochs", 1000, "500x500", ["--epochs", "5", "--unfreeze-last", "10"], 2.5),
]
# The base's inference: times OpenVINO's (float32), on the CPU's widest
# instruction set and restricted to AVX2.
INFERENCE_BAR = 1.25
AVX2_INFERENCE_BAR = 1.3
# The whole-base step's bars: speed against Keras, peak RSS as a share of
# Keras's; restricted to AVX2, speed against Keras restricted alike.
FULL_STEP_BAR = (1.8, 0.50)
AVX2_STEP_BAR = 1.5
# Each engine held to AVX2: Graft's kernels and OpenBLAS's core
# (GRAFT_ISA), oneDNN's in Keras and OpenVINO.
AVX2_ONLY = {"Graft": ["env", "GRAFT_ISA=avx2"], "other": ["env", "ONEDNN_MAX_CPU_ISA=AVX2"]}
# int8 inference: times Graft's float32 and OpenVINO's; the frozen-base fit
# with int8 features: times faster than float32's; top-1 agreement with
# float32 on held-out images.
INT8_BARS = {"float32": 1.8, "OpenVINO": 2.0, "fit": 1.5, "agreement": 0.98}
SUPPORTING_STEPS = [("step_frozen", "base frozen"), ("step_last10", "last 10 layers unfrozen")]
# The Fruits-360 seed's fine-tuning batch, which Graft runs in micro-batches.
LARGE_BATCH = 256
# JPEG folders for the pipeline: Fruits-360-like (100x100 photos) and
# beans-like (500x500 photos), both resized to 100x100.
PIPELINE_SETS = [("2,000 JPEGs 100x100", 2000, "100x100"), ("500 JPEGs 500x500", 500, "500x500")]


def run_json(command):
    """Run one benchmark process and return the JSON line it prints."""
    result = subprocess.run(list(map(str, command)), capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"benchmark failed: {' '.join(map(str, command))}\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def log(message):
    print(message, file=sys.stderr)


def sgemm_gflops(args, prefix=()):
    result = run_json([*prefix, GRAFT_BENCH, "sgemm", "--threads", args.threads])
    KERNELS.setdefault(tuple(prefix), set()).add(f"Graft's kernels on {result['isa']}, OpenBLAS core {result['core']}")
    return result["gflops"]


# The paths the sgemm peak's process ran on, by command prefix: Graft's
# instruction set and OpenBLAS's core (the CPU's widest, or GRAFT_ISA's).
KERNELS = {}


def kernels(prefix=()):
    return "; ".join(sorted(KERNELS[tuple(prefix)]))


def model_args(args, batch=None):
    return ["--weights", args.weights, "--batch", batch or args.batch, "--size", args.size, "--threads", args.threads]


def take_turns(engines, rounds, times_key, label, after_round=None):
    """Runs each engine's command once per round, in turns (then
    `after_round`). Returns, per engine, the timings of every round, the peak
    RSS and the last result."""
    measured = {name: {"times": [], "rss": 0.0, "result": None} for name in engines}
    for round_index in range(rounds):
        for name, command in engines.items():
            result = run_json(command)
            entry = measured[name]
            entry["times"] += result[times_key]
            entry["rss"] = max(entry["rss"], result["peak_rss_mb"])
            entry["result"] = result
            log(f"round {round_index + 1}: {label}: {name:12s} {result.get('images_per_s', 0):7.1f} images/s")
        if after_round:
            after_round()
    return measured


def measure_inference(args, restrict=None):
    """images/s, peak RSS and GFLOP per image of each engine, with the sgemm
    peak measured between the rounds. With `restrict` (AVX2_ONLY), each
    command runs under its prefix, and ONNX Runtime, which has no such
    setting, sits out."""
    common = model_args(args) + ["--warmup", "2", "--reps", args.reps]
    graft, other = (restrict["Graft"], restrict["other"]) if restrict else ([], [])
    engines = {
        "Graft": graft + [GRAFT_BENCH, "inference"] + common,
        "Keras": other + [sys.executable, REFERENCE_BENCH, "--engine", "keras"] + common,
        "ONNX Runtime": [sys.executable, REFERENCE_BENCH, "--engine", "onnx"] + common,
        "OpenVINO": other + [sys.executable, REFERENCE_BENCH, "--engine", "openvino"] + common,
    }
    # The ONNX export (OpenVINO reads it too) is cached next to the weights:
    # make it before timing.
    run_json(engines["ONNX Runtime"][:-4] + ["--warmup", "0", "--reps", "1"])
    if restrict:
        del engines["ONNX Runtime"]
    sgemm = [sgemm_gflops(args, graft)]
    measured = take_turns(engines, args.rounds, "seconds_per_batch", "inference",
                          after_round=lambda: sgemm.append(sgemm_gflops(args, graft)))
    gflop = measured["Graft"]["result"]["gflop_per_image"]
    rates = {name: args.batch / statistics.median(m["times"]) for name, m in measured.items()}
    return rates, {name: m["rss"] for name, m in measured.items()}, gflop, statistics.median(sgemm)


def measure_step(args, mode, reps, batch=None, restrict=None):
    """images/s (from the median of every timed step of every round), peak
    RSS and GFLOP per image of Graft's and Keras's training steps, in as many
    rounds as the other measures: this machine's slow spells last seconds,
    and a step of the whole base takes about one. `batch`: another batch
    size than the run's (Graft cuts a large one into micro-batches).
    `restrict`: as measure_inference's."""
    batch = batch or args.batch
    common = model_args(args, batch) + ["--warmup", "1", "--reps", reps]
    graft, other = (restrict["Graft"], restrict["other"]) if restrict else ([], [])
    engines = {"Graft": graft + [GRAFT_BENCH, "train", "--mode", mode] + common,
               "Keras": other + [sys.executable, REFERENCE_TRAIN_BENCH, "--mode", mode] + common}
    measured = take_turns(engines, args.rounds, "seconds_per_step", mode)
    rates = {name: int(batch) / statistics.median(m["times"]) for name, m in measured.items()}
    return rates, {name: m["rss"] for name, m in measured.items()}, measured["Graft"]["result"]["gflop_per_image"]


def jpeg_folder(count, size, classes=None):
    name = f"jpeg_{count}_{size}" + (f"_c{classes}" if classes else "")
    folder = REPO / ".fixtures" / "bench" / name
    command = [sys.executable, MAKE_IMAGES, folder, "--count", count, "--size", size]
    subprocess.run(list(map(str, command + (["--classes", classes] if classes else []))), check=True)
    return folder


def measure_fit(args, count, size, extra):
    folder = jpeg_folder(count, size, classes=4)
    fit = ["--dir", folder] + model_args(args) + extra
    results = {"Graft": run_json([GRAFT_BENCH, "fit"] + fit),
               "Keras": run_json([sys.executable, REFERENCE_TRAIN_BENCH, "--mode", "fit"] + fit)}
    for name, result in results.items():
        log(f"fit {count} {size} {' '.join(extra)}: {name:6s} {result['seconds']:7.1f} s")
    return results


def cells(values, fmt):
    return [fmt.format(v) if v is not None else "-" for v in values]


def goals_table(args):
    rows = []
    rates, rss, gflop, sgemm = measure_inference(args)
    names = ["Graft", "Keras", "ONNX Runtime", "OpenVINO"]
    graft = rates["Graft"]
    rows.append(["base inference, batch 32, images/s", *cells([rates[n] for n in names], "{:.1f}"),
                 *(f"{graft / rates[n]:.2f}x" for n in names[1:]),
                 " / ".join(f"{rates[n] * gflop:.0f} ({100 * rates[n] * gflop / sgemm:.0f}%)" for n in names),
                 " / ".join(f"{rss[n]:.0f}" for n in names) + " MB",
                 f">= {INFERENCE_BAR:g}x OpenVINO", "yes" if graft >= INFERENCE_BAR * rates["OpenVINO"] else "no"])

    fits = [(label, count, size, measure_fit(args, count, size, extra), bar)
            for label, count, size, extra, bar in FIT_ROWS]
    for label, count, size, results, bar in fits:
        g, k = results["Graft"], results["Keras"]
        work = g["keras_gflop"]
        ratio = k["seconds"] / g["seconds"]
        rows.append([f"{label}, {count:,} JPEGs {size} + 25% validation, seconds",
                     *cells([g["seconds"], k["seconds"], None, None], "{:.1f}"), f"{ratio:.2f}x faster", "-", "-",
                     " / ".join(f"{work / r['seconds']:.0f} ({100 * work / r['seconds'] / sgemm:.0f}%)"
                                for r in (g, k)) + " / - / -",
                     f"{g['peak_rss_mb']:.0f} / {k['peak_rss_mb']:.0f} / - / - MB",
                     f">= {bar:g}x faster", "yes" if ratio >= bar else "no"])

    rates, rss, gflop = measure_step(args, "step_full", "4")
    graft, keras = rates["Graft"], rates["Keras"]
    speed_bar, memory_bar = FULL_STEP_BAR
    met = graft / keras >= speed_bar and rss["Graft"] <= memory_bar * rss["Keras"]
    rows.append(["whole base unfrozen, Adam step, batch 32, images/s", *cells([graft, keras, None, None], "{:.1f}"),
                 f"{graft / keras:.2f}x", "-", "-",
                 " / ".join(f"{r * gflop:.0f} ({100 * r * gflop / sgemm:.0f}%)" for r in (graft, keras)) + " / - / -",
                 f"{rss['Graft']:.0f} / {rss['Keras']:.0f} / - / - MB ({100 * rss['Graft'] / rss['Keras']:.0f}%)",
                 f">= {speed_bar:g}x, RSS <= {100 * memory_bar:.0f}%", "yes" if met else "no"])

    print()
    print(f"Goals: ResNet50 base, {args.size}x{args.size}, {args.threads} threads; {kernels()}; "
          f"OpenBLAS sgemm 2048^3 in the same run: {sgemm:.0f} GFLOP/s; OpenVINO in float32")
    print()
    print("| measure | Graft | Keras | ONNX Runtime | OpenVINO | Graft / Keras | Graft / ONNX | Graft / OpenVINO | "
          "GFLOP/s (of sgemm) Graft / Keras / ONNX / OpenVINO | peak RSS Graft / Keras / ONNX / OpenVINO | bar | met |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return sgemm


def avx2_table(args):
    """The base's inference and the whole-base step with every engine held
    to AVX2 (AVX2_ONLY), as on the many CPUs without AVX-512."""
    rates, rss, gflop, sgemm = measure_inference(args, restrict=AVX2_ONLY)
    step_rates, step_rss, _ = measure_step(args, "step_full", "4", restrict=AVX2_ONLY)
    graft, openvino, keras = rates["Graft"], rates["OpenVINO"], rates["Keras"]
    step_ratio = step_rates["Graft"] / step_rates["Keras"]
    print()
    print(f"Restricted to AVX2 (Graft: GRAFT_ISA=avx2, {kernels(AVX2_ONLY['Graft'])}, sgemm {sgemm:.0f} GFLOP/s; "
          f"Keras and OpenVINO: ONEDNN_MAX_CPU_ISA=AVX2), same weights and sizes:")
    print()
    print("| measure | Graft | Keras | OpenVINO | Graft / Keras | Graft / OpenVINO | peak RSS Graft / Keras / OpenVINO "
          "| bar | met |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    print(f"| base inference, batch {args.batch}, images/s | {graft:.1f} | {keras:.1f} | {openvino:.1f} | "
          f"{graft / keras:.2f}x | {graft / openvino:.2f}x | {rss['Graft']:.0f} / {rss['Keras']:.0f} / "
          f"{rss['OpenVINO']:.0f} MB | >= {AVX2_INFERENCE_BAR:g}x OpenVINO | "
          f"{'yes' if graft >= AVX2_INFERENCE_BAR * openvino else 'no'} |")
    print(f"| whole base unfrozen, Adam step, batch {args.batch}, images/s | {step_rates['Graft']:.1f} | "
          f"{step_rates['Keras']:.1f} | - | {step_ratio:.2f}x | - | {step_rss['Graft']:.0f} / {step_rss['Keras']:.0f}"
          f" / - MB | >= {AVX2_STEP_BAR:g}x Keras | {'yes' if step_ratio >= AVX2_STEP_BAR else 'no'} |")


def supporting_table(args):
    print()
    print(f"Supporting figures: image_dataset_from_directory to {args.size}x{args.size} (list, decode, resize, "
          f"batch {args.batch}; file cache warm), augmentation layers alone on batches of {args.batch} "
          f"{args.size}x{args.size} images, and one training step on a batch of {args.batch}")
    print()
    print("| measure | Graft | Keras | Graft / Keras | peak RSS Graft / Keras |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, count, size in PIPELINE_SETS:
        folder = jpeg_folder(count, size)
        common = ["--dir", folder, "--batch", args.batch, "--size", args.size, "--threads", args.threads,
                  "--reps", "3"]
        engines = {"Graft": [GRAFT_BENCH, "pipeline"] + common,
                   "Keras": [sys.executable, REFERENCE_DATA_BENCH] + common}
        measured = take_turns(engines, args.rounds, "seconds_per_pass", label)
        images = measured["Graft"]["result"]["images"]
        rates = {name: images / statistics.median(m["times"]) for name, m in measured.items()}
        print(f"| image_dataset_from_directory, {label}, images/s | {rates['Graft']:.0f} | {rates['Keras']:.0f} | "
              f"{rates['Graft'] / rates['Keras']:.2f}x | {measured['Graft']['rss']:.0f} / "
              f"{measured['Keras']['rss']:.0f} MB |")
    common = ["--batch", args.batch, "--size", args.size, "--threads", args.threads]
    measured = take_turns({"Graft": [GRAFT_BENCH, "augment"] + common,
                           "Keras": [sys.executable, REFERENCE_AUGMENT_BENCH] + common},
                          args.rounds, "seconds_per_batch", "augmentation layers")
    rates = {name: args.batch / statistics.median(m["times"]) for name, m in measured.items()}
    ratio = rates["Graft"] / rates["Keras"]
    print(f"| augmentation layers alone (RandomFlip, RandomRotation(0.1), RandomZoom(0.1)), images/s | "
          f"{rates['Graft']:.0f} | {rates['Keras']:.0f} | {ratio:.2f}x (bar {AUGMENT_BAR:g}x: "
          f"{'met' if ratio >= AUGMENT_BAR else 'not met'}) | {measured['Graft']['rss']:.0f} / "
          f"{measured['Keras']['rss']:.0f} MB |")
    for mode, label in SUPPORTING_STEPS:
        rates, rss, _ = measure_step(args, mode, "4")
        print(f"| one Adam step, {label}, images/s | {rates['Graft']:.1f} | {rates['Keras']:.1f} | "
              f"{rates['Graft'] / rates['Keras']:.2f}x | {rss['Graft']:.0f} / {rss['Keras']:.0f} MB |")
    # The seed's fine-tuning batch: Graft in micro-batches of the engine's size.
    rates, rss, _ = measure_step(args, "step_full", "2", batch=LARGE_BATCH)
    print(f"| one Adam step, whole base, batch {LARGE_BATCH} (Graft in micro-batches), images/s | "
          f"{rates['Graft']:.1f} | {rates['Keras']:.1f} | {rates['Graft'] / rates['Keras']:.2f}x | "
          f"{rss['Graft']:.0f} / {rss['Keras']:.0f} MB ({100 * rss['Graft'] / rss['Keras']:.0f}%) |")


def bfloat16_table(args):
    """The opt-in bfloat16 precision: inference speed beside float32 (Graft's,
    ONNX Runtime's, Keras's) and Keras's own mixed_bfloat16 policy, a
    frozen-base fit, and what the rounding changes."""
    common = model_args(args) + ["--warmup", "2", "--reps", args.reps]
    engines = {
        "Graft bfloat16": [GRAFT_BENCH, "inference", "--precision", "bfloat16"] + common,
        "Graft float32": [GRAFT_BENCH, "inference"] + common,
        "ONNX Runtime": [sys.executable, REFERENCE_BENCH, "--engine", "onnx"] + common,
        "Keras": [sys.executable, REFERENCE_BENCH, "--engine", "keras"] + common,
        "Keras mixed_bfloat16": [sys.executable, REFERENCE_BENCH, "--engine", "keras", "--precision", "bfloat16"]
        + common,
    }
    measured = take_turns(engines, args.rounds, "seconds_per_batch", "inference")
    rates = {name: args.batch / statistics.median(m["times"]) for name, m in measured.items()}
    label, count, size, extra, _ = FIT_ROWS[0]
    fit = ["--dir", jpeg_folder(count, size, classes=4)] + model_args(args) + extra
    fits = {"bfloat16": run_json([GRAFT_BENCH, "fit", "--precision", "bfloat16"] + fit),
            "float32": run_json([GRAFT_BENCH, "fit"] + fit)}
    agreement = run_json([GRAFT_BENCH, "precision", "--dir", shapes_dataset(args), "--epochs", "10"]
                         + model_args(args))

    print()
    print("bfloat16 precision (opt-in; AVX512_BF16), same run, same weights:")
    print()
    print("| measure | Graft bfloat16 | Graft float32 | ONNX Runtime | Keras | Keras mixed_bfloat16 "
          "| bfloat16 / float32 | bfloat16 / ONNX | bfloat16 / Keras mixed_bfloat16 |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    b, f, o, k, kb = (rates[name] for name in engines)
    print(f"| base inference, batch {args.batch}, images/s | {b:.1f} | {f:.1f} | {o:.1f} | {k:.1f} | {kb:.1f} | "
          f"{b / f:.2f}x | {b / o:.2f}x | {b / kb:.2f}x |")
    print(f"| {label}, {count:,} JPEGs {size} + 25% validation, seconds | {fits['bfloat16']['seconds']:.1f} | "
          f"{fits['float32']['seconds']:.1f} | - | - | - | "
          f"{fits['float32']['seconds'] / fits['bfloat16']['seconds']:.2f}x faster | - | - |")
    print()
    print(f"What bfloat16 changes, on {agreement['images']} held-out images (6 classes of shapes, a head trained "
          f"in float32 for 10 epochs on 600 others, the base's random weights): the base's features differ from "
          f"float32's by {100 * float(agreement['feature_error_median']):.2f}% of their norm (median; at most "
          f"{100 * float(agreement['feature_error_max']):.2f}%); top-1 agreement with float32 "
          f"{100 * float(agreement['top1_agreement']):.1f}%; accuracy {100 * float(agreement['accuracy_rounded']):.1f}% "
          f"against float32's {100 * float(agreement['accuracy_float32']):.1f}%.")


def int8_table(args):
    """The opt-in int8 precision: inference beside Graft's float32 and
    OpenVINO's, a frozen-base fit with int8 features, and what the rounding
    changes."""
    common = model_args(args) + ["--warmup", "2", "--reps", args.reps]
    engines = {
        "Graft int8": [GRAFT_BENCH, "inference", "--precision", "int8"] + common,
        "Graft float32": [GRAFT_BENCH, "inference"] + common,
        "OpenVINO": [sys.executable, REFERENCE_BENCH, "--engine", "openvino"] + common,
    }
    run_json(engines["OpenVINO"][:-4] + ["--warmup", "0", "--reps", "1"])  # the ONNX export, cached
    measured = take_turns(engines, args.rounds, "seconds_per_batch", "inference")
    rates = {name: args.batch / statistics.median(m["times"]) for name, m in measured.items()}
    label, count, size, extra, _ = FIT_ROWS[0]
    fit = ["--dir", jpeg_folder(count, size, classes=4)] + model_args(args) + extra
    fits = {"int8": run_json([GRAFT_BENCH, "fit", "--precision", "int8"] + fit),
            "float32": run_json([GRAFT_BENCH, "fit"] + fit)}
    agreement = run_json([GRAFT_BENCH, "precision", "--precision", "int8", "--dir", shapes_dataset(args),
                          "--epochs", "10"] + model_args(args))
    i, f, o = (rates[name] for name in engines)
    fit_ratio = fits["float32"]["seconds"] / fits["int8"]["seconds"]
    agree = float(agreement["top1_agreement"])
    accuracy_change = float(agreement["accuracy_rounded"]) - float(agreement["accuracy_float32"])

    print()
    print("int8 precision (opt-in; AVX512_VNNI; calibrated: inference on the timed batch, the fit on its first "
          "256 training images, calibration timed), same run, same weights:")
    print()
    print("| measure | Graft int8 | Graft float32 | OpenVINO (float32) | int8 / float32 | int8 / OpenVINO | bar | met |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | --- |")
    print(f"| base inference, batch {args.batch}, images/s | {i:.1f} | {f:.1f} | {o:.1f} | {i / f:.2f}x | "
          f"{i / o:.2f}x | >= {INT8_BARS['float32']:g}x float32, >= {INT8_BARS['OpenVINO']:g}x OpenVINO | "
          f"{'yes' if i >= INT8_BARS['float32'] * f and i >= INT8_BARS['OpenVINO'] * o else 'no'} |")
    print(f"| {label}, {count:,} JPEGs {size} + 25% validation, seconds | {fits['int8']['seconds']:.1f} | "
          f"{fits['float32']['seconds']:.1f} | - | {fit_ratio:.2f}x faster | - | >= {INT8_BARS['fit']:g}x faster | "
          f"{'yes' if fit_ratio >= INT8_BARS['fit'] else 'no'} |")
    print()
    print(f"What int8 changes, on {agreement['images']} held-out images (6 classes of shapes, a head trained "
          f"in float32 for 10 epochs on 600 others, int8 calibrated on 256 of those, the base's random weights): "
          f"the base's features differ from float32's by {100 * float(agreement['feature_error_median']):.2f}% of "
          f"their norm (median; at most {100 * float(agreement['feature_error_max']):.2f}%); top-1 agreement "
          f"with float32 {100 * agree:.1f}% (bar {100 * INT8_BARS['agreement']:g}%: "
          f"{'met' if agree >= INT8_BARS['agreement'] else 'not met'}); accuracy "
          f"{100 * float(agreement['accuracy_rounded']):.1f}% against float32's "
          f"{100 * float(agreement['accuracy_float32']):.1f}% (bar: within 1 point, "
          f"{'met' if abs(accuracy_change) <= 0.01 else 'not met'}).")


def distributed_table(args):
    """Data-parallel training on this machine: 2 processes x 1 thread (under
    mpirun) against 1 process x 2 threads, in turns; the collectives' wait
    and bytes per step; then a model of N machines from these figures."""
    mpirun = ["env", "OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
              shutil.which("mpirun") or sys.exit("mpirun is missing (make deps installs Open MPI)"),
              "--oversubscribe", "--bind-to", "none", "-np", "2"]
    one = model_args(args)
    two = model_args(args)
    two[two.index("--threads") + 1] = max(1, int(args.threads) // 2)
    steps = {}
    for mode, label in [("step_full", "whole base"), ("step_last10", "last 10 layers")]:
        timing = ["--warmup", "1", "--reps", args.reps, "--mode", mode]
        engines = {"1 process": [GRAFT_BENCH, "train"] + one + timing,
                   "2 processes": mpirun + [GRAFT_BENCH, "train"] + two + timing}
        measured = take_turns(engines, args.rounds, "seconds_per_step", f"{mode} distributed")
        steps[label] = {name: (int(args.batch) / statistics.median(m["times"]), m["result"])
                        for name, m in measured.items()}
    _, count, size, extra, _ = FIT_ROWS[0]
    fit_one = ["--dir", jpeg_folder(count, size, classes=4)] + extra
    fits = {"1 process": run_json([GRAFT_BENCH, "fit"] + one + fit_one),
            "2 processes": run_json(mpirun + [GRAFT_BENCH, "fit"] + two + fit_one)}

    print()
    engine = steps["whole base"]["2 processes"][1]["comm_engine"]
    print(f"Data-parallel training on this machine ({engine}, shared memory): 2 processes x "
          f"{two[two.index('--threads') + 1]} thread against 1 process x {args.threads} threads, "
          f"global batch {args.batch}, medians of {args.rounds} alternating rounds:")
    print()
    print("| measure | 1 process | 2 processes | 2 / 1 | wait in collectives per step | gradients summed per step |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for label, rates in steps.items():
        (r1, _), (r2, result) = rates["1 process"], rates["2 processes"]
        print(f"| {label} step, images/s | {r1:.1f} | {r2:.1f} | {r2 / r1:.2f}x | "
              f"{1e3 * float(result['comm_seconds_per_step']):.0f} ms | {float(result['comm_mb_per_step']):.1f} MB |")
    s1, s2 = fits["1 process"]["seconds"], fits["2 processes"]["seconds"]
    print(f"| {label_of(FIT_ROWS[0])}, seconds | {s1:.1f} | {s2:.1f} | {s1 / s2:.2f}x faster | - | - |")
    print()
    print("A model of N such machines (2 cores each), from the figures above: a step takes the 1-process step "
          "time divided by N, plus a ring allreduce of the gradients, 2(N-1)/N x bytes / bandwidth, none of it "
          "hidden behind the backward pass (the bound on its cost). Speed-up over one machine (efficiency):")
    print()
    networks = [("10 Gbit/s", 10e9 / 8), ("25 Gbit/s", 25e9 / 8)]
    machines = [2, 4, 8, 16, 32]
    print("| step | global batch | network | " + " | ".join(f"N={n}" for n in machines) + " | scales to |")
    print("| --- | ---: | --- | " + " | ".join("---:" for _ in machines) + " | --- |")
    for label, rates in steps.items():
        rate, result = rates["1 process"][0], rates["2 processes"][1]
        gradient_bytes = float(result["comm_mb_per_step"]) * 1e6
        for batch in (int(args.batch), LARGE_BATCH):
            for network, bandwidth in networks:
                single = batch / rate
                speedups = [single / (single / n + 2 * (n - 1) / n * gradient_bytes / bandwidth) for n in machines]
                # Where adding machines stops paying: efficiency under 50%.
                last = max([n for n, s in zip(machines, speedups) if s / n >= 0.5], default=1)
                scales = f"past {last} machines" if last == machines[-1] else f"{last} machines"
                cells_text = " | ".join(f"{s:.1f}x ({100 * s / n:.0f}%)" for n, s in zip(machines, speedups))
                print(f"| {label} ({gradient_bytes / 1e6:.0f} MB) | {batch} | {network} | {cells_text} | "
                      f"{scales} at >= 50% |")


def label_of(row):
    label, count, size, _, _ = row
    return f"{label}, {count:,} JPEGs {size}"


def shapes_dataset(args):
    """The generated dataset `graft-bench precision` trains and predicts on."""
    shapes = REPO / ".fixtures" / "bench" / "shapes_6x100"
    subprocess.run([sys.executable, REPO / "tools" / "make_demo_dataset.py", shapes, "--classes", "6",
                    "--train", "100", "--test", "100", "--size", str(args.size)], check=True,
                   stdout=subprocess.DEVNULL)
    return shapes


def profile_table(args, sgemm):
    """Graft's time per batch in each stage of ResNet50 and each kind of layer."""
    result = run_json([GRAFT_BENCH, "profile"] + model_args(args) + ["--reps", "3"])
    batch = result["batch"]

    def table(title, groups):
        print()
        print(title)
        print()
        print("| | GMAC / image | inference ms | GFLOP/s | training forward ms | backward ms | optimizer ms "
              "| training GFLOP/s |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        totals = {}
        for name, g in list(groups.items()) + [("total", None)]:
            if g is None:
                g = totals
            else:
                for key, value in g.items():
                    totals[key] = totals.get(key, 0) + value
            macs = g["macs_per_image"] * batch
            train = g["forward"] + g["backward"] + g["optimizer"]
            inference_rate = f"{2 * macs / g['inference'] / 1e9:.0f}" if macs and g["inference"] else "-"
            training_rate = f"{2 * g['training_macs_per_image'] * batch / train / 1e9:.0f}" if macs else "-"
            print(f"| {name} | {g['macs_per_image'] / 1e9:.3f} | {1e3 * g['inference']:.1f} | {inference_rate} | "
                  f"{1e3 * g['forward']:.1f} | {1e3 * g['backward']:.1f} | {1e3 * g['optimizer']:.1f} | "
                  f"{training_rate} |")

    table(f"Where Graft's time goes, per batch of {batch} (inference: compiled; training: the whole base "
          f"unfrozen, Adam; GFLOP/s beside sgemm's {sgemm:.0f}), by stage of ResNet50:", result["stages"])
    table("and by kind of layer:", result["kinds"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", default=str(REPO / ".fixtures" / "model" / "resnet50_random.h5"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5, help="timed batches per inference process")
    parser.add_argument("--only", choices=["goals", "avx2", "supporting", "bfloat16", "int8", "distributed",
                                           "profile"],
                        help="run one table only")
    args = parser.parse_args()
    sgemm = None
    if args.only in (None, "goals"):
        sgemm = goals_table(args)
    if args.only in (None, "avx2"):
        avx2_table(args)
    if args.only in (None, "supporting"):
        supporting_table(args)
    if args.only in (None, "bfloat16"):
        bfloat16_table(args)
    if args.only in (None, "int8"):
        int8_table(args)
    if args.only in (None, "distributed"):
        distributed_table(args)
    if args.only in (None, "profile"):
        profile_table(args, sgemm or statistics.median(sgemm_gflops(args) for _ in range(3)))


if __name__ == "__main__":
    main()
