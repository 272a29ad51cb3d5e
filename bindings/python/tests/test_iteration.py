"""Each Python iterator over a dataset is a pass of its own, as in tf.data,
and passes survive fork() (Python's multiprocessing forks)."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np

import graft


def numbered(count: int = 20, batch_size: int = 4, shuffle: bool = False) -> graft.ImageDataset:
    """Images whose pixels are their index: batches say which images they hold."""
    images = np.repeat(np.arange(count, dtype=np.uint8), 2 * 2 * 3).reshape(count, 2, 2, 3)
    return graft.ImageDataset.from_arrays(images, np.arange(count) % 2, batch_size=batch_size,
                                          shuffle=shuffle, seed=5)


def indices(batches) -> list[int]:
    return [int(v) for images, _ in batches for v in images[:, 0, 0, 0]]


def test_zip_pairs_two_whole_passes() -> None:
    dataset = numbered()
    pairs = list(zip(dataset, dataset))
    assert len(pairs) == 5  # it once gave 3 pairs of half the images each
    assert indices(a for a, _ in pairs) == list(range(20))
    assert indices(b for _, b in pairs) == list(range(20))
    # Shuffled: each iterator is the next epoch, every image once.
    shuffled = numbered(shuffle=True)
    first, second = iter(shuffled), iter(shuffled)
    a, b = indices(first), indices(second)
    assert sorted(a) == sorted(b) == list(range(20)) and a != b


def test_threads_each_get_every_batch() -> None:
    dataset = numbered(count=64)
    seen: dict[int, list[int]] = {}

    def run(k: int) -> None:
        seen[k] = indices(dataset)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(seen[k] == list(range(64)) for k in range(4))


def test_an_abandoned_iterator_does_not_disturb_others() -> None:
    dataset = numbered()
    abandoned = iter(dataset)
    next(abandoned)
    assert indices(dataset) == list(range(20))
    assert indices(abandoned) == list(range(4, 20))
    dataset.close()  # an iterator keeps what it needs; the dataset is closed
    del abandoned


def test_a_pass_goes_on_across_fork() -> None:
    dataset = numbered(count=64, batch_size=8)
    running = iter(dataset)
    first = indices([next(running)])
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the child
        try:
            signal.alarm(60)  # a child that waits for a thread it lacks dies
            os.close(read)
            result = indices(running) == list(range(8, 64)) and indices(dataset) == list(range(64))
            os.write(write, b"ok" if result else b"wrong")
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(child, 0)
    assert status == 0 and answer == b"ok"
    assert first + indices(running) == list(range(64))
