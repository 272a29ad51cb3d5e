"""Data-parallel training over processes, as Keras's distribution API and
Horovod run it: start the script under a launcher, call `initialize()` once,
then fit and evaluate as in one process::

    mpirun -np 4 python train.py

    # train.py
    import graft
    graft.distribution.initialize()
    ...
    model.fit(train_ds, epochs=5)          # batch_size is the global batch
    if graft.distribution.rank() == 0:
        model.save("model.h5")

Every process builds the same model and datasets (same files, seed and
batch_size) and makes the same calls. Each takes its shard of every batch;
the group sums the gradients while the backward pass goes on, and the
losses and counts, so that every process takes the steps and reports the
figures one process would with the whole batch. Only rank 0 prints
progress, and Graft's checkpoint and CSV callbacks write from rank 0 only.

The transport is Open MPI (Debian's openmpi-bin and libopenmpi3), through
libgraft_mpi.so beside libgraft.so. Outside a launcher, `initialize()` does
nothing and everything runs as one process.
"""

from __future__ import annotations

from typing import Optional

from ._lib import check, lib

__all__ = ["barrier", "initialize", "rank", "size"]


def initialize(timeout: Optional[float] = None) -> None:
    """Joins the group of processes the launcher started (once; later calls
    keep the first group).

    Args:
        timeout: seconds a collective waits for the other processes before
            raising a GraftError (status DISTRIBUTED): a process that died
            or hangs stops the others instead of leaving them waiting
            forever. Default: $GRAFT_DISTRIBUTED_TIMEOUT, else 300.
    """
    if timeout is not None and not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    check(lib.graft_distribution_initialize(0.0 if timeout is None else float(timeout)))


def rank() -> int:
    """This process's rank in the group (0 without one)."""
    return int(lib.graft_distribution_rank())


def size() -> int:
    """The number of processes in the group (1 without one)."""
    return int(lib.graft_distribution_size())


def barrier() -> None:
    """Returns once every process has called it (say, after rank 0 wrote a
    file the others read); at once without a group. Raises a GraftError
    (status DISTRIBUTED) when another process does not come within the
    timeout."""
    check(lib.graft_distribution_barrier())
