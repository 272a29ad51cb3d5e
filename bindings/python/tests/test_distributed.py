"""Data-parallel training over MPI (graft.distribution): two processes with a
global batch of 32 (16 each) against one process with the batch of 32.

distributed/worker.py trains the head on the frozen base (feature cache,
Adam, 2 epochs, validation) and, from the same start, the whole base (Adam, 1
epoch); 65 images make each epoch 2 full batches and one of a single image,
so that one process has no image in it (and takes part in its step all the
same). It evaluates on the validation images and on the 65.

The bar, as the micro-batch tests' (Tests/GraftModelTests/MicroBatchTests):
1e-5 of the phase's largest update plus two float32 steps of the weight,
which is what float32 sums taken in another order leave. Conditioned as they
are: every run trains in parts of 8 images (micro_batch_size), so that every
3x3 convolution takes the same Winograd tiling whatever the batch (a ReLU at
its kink could otherwise fall on either side), and Adam's epsilon is 1 (its
first updates are lr*g/(|g|+eps): with Keras's 1e-7, a gradient summing to
nearly 0 turns a reordering's rounding into an update of up to lr). The
whole base trains at 1e-4: over several steps of the whole network, a
reordering's rounding grows with the step's size (measured here: one process
cut into parts of 8 or of 16 differs by 5e-4 of the update after two SGD
steps at 1e-3).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import numpy as np
import pytest

import graft

WORKER = Path(__file__).parent / "distributed" / "worker.py"


def mpirun(processes: int, *args: str, timeout: float = 300, script: Optional[list[str]] = None,
           **environment: str) -> subprocess.CompletedProcess:
    """`mpirun -np N python worker.py ARGS` (or the worker alone for one
    process); `script`: python's arguments instead of the worker's."""
    launcher = shutil.which("mpirun")
    if launcher is None:
        pytest.fail("mpirun is missing: install Open MPI (make deps installs openmpi-bin and libopenmpi-dev)")
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               PYTHONPATH=str(Path(graft.__file__).parents[1]), **environment)
    command = [sys.executable, *(script or [str(WORKER), *args])]
    if processes > 1:
        exported = [flag for name in ["GRAFT_LIBRARY", "PYTHONPATH", *environment] for flag in ("-x", name)]
        command = [launcher, "--oversubscribe", "-np", str(processes), *exported] + command
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def runs(fixtures, tmp_path_factory) -> dict[str, np.lib.npyio.NpzFile]:
    out = tmp_path_factory.mktemp("distributed")
    weights = str(fixtures.path("resnet50_random.h5"))
    for processes in (1, 2):
        result = mpirun(processes, weights, str(out), "train")
        assert result.returncode == 0, result.stdout + result.stderr
    return {name: np.load(out / f"{name}.npz") for name in ("0-of-1", "0-of-2", "1-of-2")}


def excess(a: np.ndarray, b: np.ndarray, largest_update: float) -> float:
    """How far |a - b| exceeds the bar (module docstring); <= 0 passes."""
    allowed = 1e-5 * largest_update + 2 * np.spacing(np.maximum(np.abs(a), np.abs(b)))
    return float((np.abs(a - b) - allowed).max())


@pytest.mark.parametrize("phase", ["head", "base"])
def test_two_processes_take_the_steps_of_one(runs, phase: str) -> None:
    one, two = runs["0-of-1"], runs["0-of-2"]
    names = [k for k in one.files if k.startswith(phase + "/")]
    assert names
    start = {k: one["start" + k[len(phase):]] for k in names}
    largest = max(float(np.abs(one[k] - start[k]).max()) for k in names)
    assert largest > 0, "the phase trained nothing"
    worst = max(excess(one[k], two[k], largest) for k in names)
    assert worst <= 0, f"{phase}: over the bar by {worst:.3g} (largest update {largest:.3g})"


def test_processes_hold_identical_weights(runs) -> None:
    """Every process steps with the group's sums, bit for bit the same (the
    worker's process 1 starts with other weights, and takes rank 0's)."""
    first, second = runs["0-of-2"], runs["1-of-2"]
    for k in first.files:
        assert np.array_equal(first[k], second[k]), k


def test_figures_are_the_groups(runs) -> None:
    """The history and the evaluation are the whole batches', in every
    process: losses within float32 sums' reordering (1e-5 relative), counts
    exact."""
    one, first, second = runs["0-of-1"], runs["0-of-2"], runs["1-of-2"]
    figures = [k for k in one.files if k.startswith("history/") or k == "evaluation"]
    assert "history/head/val_loss" in figures
    for k in figures:
        np.testing.assert_array_equal(first[k], second[k], err_msg=k)
        np.testing.assert_allclose(first[k], one[k], rtol=1e-5, atol=1e-9, err_msg=k)
        if "accuracy" in k:
            np.testing.assert_array_equal(first[k], one[k], err_msg=k)


@pytest.mark.parametrize("how", ["hang", "kill"])
def test_a_failed_process_stops_the_group(fixtures, tmp_path, how: str) -> None:
    """Process 1 hangs (or dies) after the first epoch: the other fails with
    a clear error within the timeout (5 s) instead of waiting forever."""
    started = time.monotonic()
    result = mpirun(2, str(fixtures.path("resnet50_random.h5")), str(tmp_path), how, timeout=120)
    assert result.returncode != 0
    assert time.monotonic() - started < 60
    if how == "hang":
        assert "rank 0: DISTRIBUTED: process 0 of 2:" in result.stderr
        assert "did not complete within 5 s" in result.stderr
    else:
        assert "rank 1" in result.stdout + result.stderr and "signal 9" in result.stdout + result.stderr


def test_an_engine_that_cannot_load_is_a_clear_error() -> None:
    result = mpirun(2, script=["-c", "import graft; graft.distribution.initialize()"],
                    GRAFT_COMM_ENGINE="/nonexistent/libengine.so")
    assert result.returncode != 0
    assert "cannot load the communication engine /nonexistent/libengine.so" in result.stderr
    assert "needs Open MPI" in result.stderr


def test_outside_a_launcher_one_process() -> None:
    graft.distribution.initialize()
    assert (graft.distribution.rank(), graft.distribution.size()) == (0, 1)
    graft.distribution.barrier()
    with pytest.raises(ValueError, match="timeout"):
        graft.distribution.initialize(timeout=-1)
