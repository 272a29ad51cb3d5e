#!/usr/bin/env python3
"""Keras's own callback decisions on scripted metric sequences.

Usage: .venv/bin/python tools/make_callback_fixtures.py [OUTDIR]
       (default: .fixtures/callbacks; takes seconds)

Each case runs one Keras callback (EarlyStopping or ReduceLROnPlateau) over
a scripted sequence of epoch logs, on a one-weight model compiled with SGD,
calling on_train_begin, on_epoch_end per epoch (until the callback stops
the fit) and on_train_end, as Keras's fit does. It records, after each
epoch: whether training was stopped, the callback's wait counter and best
value, and the optimizer's learning rate; and at the end the stopped epoch,
the best epoch and, with restore_best_weights, the weight put back (each
epoch's weight is the epoch's index, so the restored weight names the epoch).

Writes OUTDIR/callbacks.json, then OUTDIR/STAMP (tensorflow and keras versions).
"""

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from fixture_dir import build_into  # noqa: E402

# (callback class, its arguments, the logs of each epoch).
CASES = [
    ("EarlyStopping", {"patience": 2},
     [{"loss": 1.0, "val_loss": 1.0}, {"loss": 0.9, "val_loss": 0.9}, {"loss": 0.8, "val_loss": 0.95},
      {"loss": 0.7, "val_loss": 0.91}, {"loss": 0.6, "val_loss": 0.92}, {"loss": 0.5, "val_loss": 0.8}]),
    ("EarlyStopping", {"monitor": "val_accuracy", "min_delta": 0.01, "patience": 1, "baseline": 0.6,
                       "restore_best_weights": True},
     [{"val_accuracy": 0.5}, {"val_accuracy": 0.55}, {"val_accuracy": 0.62}, {"val_accuracy": 0.625},
      {"val_accuracy": 0.7}, {"val_accuracy": 0.69}, {"val_accuracy": 0.7}]),
    ("EarlyStopping", {"monitor": "loss", "mode": "min", "patience": 0, "start_from_epoch": 2},
     [{"loss": 1.0}, {"loss": 2.0}, {"loss": 0.5}, {"loss": 0.6}, {"loss": 0.4}]),
    ("EarlyStopping", {"monitor": "val_loss", "patience": 3, "restore_best_weights": True},
     [{"val_loss": 0.5}, {"val_loss": 0.4}, {"val_loss": 0.45}, {"val_loss": 0.41}]),
    ("ReduceLROnPlateau", {"factor": 0.5, "patience": 2, "cooldown": 1, "min_lr": 0.02},
     [{"val_loss": v} for v in [1.0, 0.9, 0.9, 0.95, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.91, 0.92, 0.93]]),
    ("ReduceLROnPlateau", {"monitor": "accuracy", "factor": 0.2, "patience": 1, "min_delta": 0.05},
     [{"accuracy": v} for v in [0.5, 0.52, 0.6, 0.62, 0.63, 0.7, 0.71]]),
]
LEARNING_RATE = 0.1


def run(kind, arguments, sequence):
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, use_bias=False)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATE), loss="mse", metrics=["accuracy"])
    # Builds the metrics, whose directions mode="auto" reads ("accuracy": up).
    model.evaluate(np.zeros((1, 1)), np.zeros((1, 1)), verbose=0)
    callback = getattr(keras.callbacks, kind)(**arguments)
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin()
    epochs = []
    for epoch, logs in enumerate(sequence):
        model.layers[0].kernel.assign(np.full((1, 1), epoch, dtype=np.float32))
        callback.on_epoch_begin(epoch)
        callback.on_epoch_end(epoch, dict(logs))
        best = callback.best
        epochs.append({"stop_training": bool(model.stop_training), "wait": int(callback.wait),
                       "best": None if best is None else float(best),
                       "learning_rate": float(np.float32(model.optimizer.learning_rate.numpy()))})
        if model.stop_training:
            break
    callback.on_train_end()
    result = {"callback": kind, "arguments": arguments, "logs": sequence, "learning_rate": LEARNING_RATE,
              "epochs": epochs}
    if kind == "EarlyStopping":
        result["stopped_epoch"] = int(callback.stopped_epoch)
        result["best_epoch"] = int(callback.best_epoch)
        result["final_weight"] = float(model.layers[0].kernel.numpy()[0, 0])
    return result


def build(out):
    cases = [run(*case) for case in CASES]
    (out / "callbacks.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")
    (out / "STAMP").write_text(f"tensorflow {tf.__version__}\nkeras {keras.__version__}\n")


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".fixtures/callbacks").resolve()
    build_into(out, build)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
