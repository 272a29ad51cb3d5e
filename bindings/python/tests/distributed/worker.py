"""One process of the distributed-training tests (test_distributed.py):
run alone it trains as one process; under `mpirun -np N` it is one rank.

    worker.py WEIGHTS OUT_DIR train    fits the head on a frozen base, then,
                                       from the same start, the whole base
                                       (Adam both), and writes
                                       OUT_DIR/<rank>-of-<size>.npz: the
                                       weights at the start and after each
                                       phase, the histories and an evaluation
    worker.py WEIGHTS OUT_DIR hang     rank 1 stops answering after the first
                                       epoch: the others must fail within the
                                       timeout (exit 3, the error on stderr)
    worker.py WEIGHTS OUT_DIR kill     rank 1 dies (SIGKILL) after the first
                                       epoch
"""

from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np

import graft

BATCH = 32  # the global batch: 16 images per rank with 2 ranks
IMAGES = 65  # 2 full batches and one of a single image: rank 0's part of it is empty


def colours(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of flat-coloured 32x32 images with noise."""
    rng = np.random.default_rng(seed)
    palette = np.array([[220, 40, 40], [40, 200, 60], [50, 60, 210]], dtype=np.float32)
    labels = np.arange(count) % 3
    images = palette[labels][:, None, None, :] + rng.uniform(-60, 60, (count, 32, 32, 3))
    return np.clip(images, 0, 255).astype(np.uint8), labels


class Misbehave(graft.callbacks.Callback):
    """Rank 1 hangs or dies at the end of the first epoch."""

    def __init__(self, how: str) -> None:
        super().__init__()
        self.how = how

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if graft.distribution.rank() != 1:
            return
        if self.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(600)


def main() -> None:
    weights, out, mode = sys.argv[1:4]
    graft.distribution.initialize(timeout=5 if mode != "train" else None)
    rank, size = graft.distribution.rank(), graft.distribution.size()
    base = graft.applications.ResNet50(weights=weights, input_shape=(32, 32, 3), threads=1)
    model = graft.TransferModel(base, num_classes=3, seed=3)
    x, y = colours(IMAGES, 1)
    train = graft.ImageDataset.from_arrays(x, y, num_classes=3, batch_size=BATCH, seed=5)
    validation = graft.ImageDataset.from_arrays(*colours(24, 2), num_classes=3, batch_size=BATCH, shuffle=False)

    if mode != "train":
        base.trainable = False
        model.compile(optimizer=graft.optimizers.Adam(learning_rate=1e-2))
        try:
            model.fit(train, epochs=3, verbose=0, callbacks=[Misbehave(mode)])
        except graft.GraftError as error:
            print(f"rank {rank}: {error.status.name}: {error}", file=sys.stderr)
            sys.exit(3)
        sys.exit(0)

    saved: dict[str, np.ndarray] = {}

    def keep(prefix: str) -> None:
        for k, w in enumerate(model.get_weights()):
            saved[f"{prefix}/{k}"] = w

    # Conditioned as test_distributed.py explains: parts of 8 images in
    # every run, Adam's epsilon 1.
    model.micro_batch_size = 8
    base.trainable = False
    model.compile(optimizer=graft.optimizers.Adam(learning_rate=1e-2, epsilon=1.0))
    keep("start")
    start = model.get_weights()
    if rank == 1:
        # A process whose weights differ takes rank 0's when the fit starts.
        model.set_weights([w + 1 for w in start])
    head = model.fit(train, epochs=2, validation_data=validation, verbose=1 if rank == 0 else 0)
    keep("head")
    # The whole base from the same start, so that each phase is compared on
    # its own.
    model.set_weights(start)
    base.trainable = True
    model.compile(optimizer=graft.optimizers.Adam(learning_rate=1e-4, epsilon=1.0))
    whole = model.fit(train, epochs=1, verbose=0)
    keep("base")
    loss, accuracy = model.evaluate(validation, verbose=0)
    train_loss, train_accuracy = model.evaluate(train, verbose=0)
    for name, history in (("head", head), ("base", whole)):
        for key, values in history.history.items():
            saved[f"history/{name}/{key}"] = np.array(values)
    saved["evaluation"] = np.array([loss, accuracy, train_loss, train_accuracy])
    np.savez(os.path.join(out, f"{rank}-of-{size}.npz"), **saved)
    graft.distribution.barrier()


if __name__ == "__main__":
    main()
