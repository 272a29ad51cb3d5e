"""fit and evaluate print Keras's progress bar; Ctrl-C stops them cleanly.

Keras 3 is the reference for the text: its Progbar and ours are fed the same
figures and must print the same characters (times aside).
"""

from __future__ import annotations

import io
import os
import re
import signal
import threading
from typing import Callable

import numpy as np
import pytest

import graft
from graft import progress

# Keras is the reference, installed into .venv by `make test`: no skipping.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402

FIGURE = r"(?:\d+\.\d{4}(?:e[+-]\d+)?)"
TIME_PER_STEP = r"\d+(s|ms|us)/step"


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def capture(function: Callable[[], object], terminal: bool) -> str:
    """What `function` writes to sys.stdout, a terminal or not."""
    import sys

    saved, sys.stdout = sys.stdout, (Terminal() if terminal else io.StringIO())
    try:
        function()
        return sys.stdout.getvalue()
    finally:
        sys.stdout = saved


def keras_figure(value: float) -> str:
    """A figure as Keras's Progbar prints it (keras/src/utils/progbar.py)."""
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def without_times(text: str) -> str:
    """The text with durations blanked out and Keras's backspaces dropped."""
    return re.sub(r"\d+(ms|us|s)\b", "T", text.replace("\b", ""))


@pytest.mark.parametrize("verbose", [1, 2])
def test_progbar_prints_what_keras_prints(verbose: int) -> None:
    figures = [("accuracy", 0.8125), ("loss", 0.6312)]
    final = figures + [("val_accuracy", 0.9), ("val_loss", 0.0003012)]

    def keras_bar() -> None:
        bar = keras.utils.Progbar(199, verbose=verbose, interval=0)
        bar.update(12, figures, finalize=False)
        bar.update(199, final, finalize=True)

    def graft_bar() -> None:
        bar = progress.Progbar(199, verbose=verbose, interval=0)
        bar.update(12, dict(figures), finalize=False)
        bar.update(199, dict(final), finalize=True)

    # Keras redraws on any POSIX stream; Graft on a terminal, as here.
    expected = without_times(capture(keras_bar, terminal=True))
    assert without_times(capture(graft_bar, terminal=True)) == expected
    assert "val_loss: 3.0120e-04\n" in expected


def test_fit_to_a_file_prints_one_line_per_epoch(small_model, colours, capsys) -> None:
    x, y = colours(24, 1)
    vx, vy = colours(9, 2)
    history = small_model.fit(x, y, batch_size=8, epochs=2, validation_data=(vx, vy), shuffle=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    for epoch, line in zip((0, 1), lines[1::2]):
        assert re.fullmatch(rf"3/3 ━{{20}} \d+s {TIME_PER_STEP} - accuracy: ({FIGURE}) - loss: ({FIGURE})"
                            rf" - val_accuracy: ({FIGURE}) - val_loss: ({FIGURE})", line), line
        for name in ("accuracy", "loss", "val_accuracy", "val_loss"):
            assert f"{name}: {keras_figure(history.history[name][epoch])}" in line
    assert list(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]  # Keras's order
    assert small_model.history is history and history.params["steps"] == 3


def test_fit_on_a_terminal_redraws_the_bar(small_model, colours) -> None:
    x, y = colours(24, 1)
    vx, vy = colours(9, 2)
    out = capture(lambda: small_model.fit(x, y, batch_size=8, epochs=2, validation_data=(vx, vy)), terminal=True)
    assert out.startswith("Epoch 1/2\n\r\x1b[1m1/3\x1b[0m \x1b[32m")
    epochs = out.split("Epoch 2/2\n")
    assert len(epochs) == 2
    for text in epochs:
        # Redrawn in place, the last drawing with the validation figures.
        assert text.count("\n") == 1 + (text is epochs[0]) and text.endswith("\n")
        last = text.rstrip("\n").rsplit("\r", 1)[1]
        assert re.fullmatch(rf"\x1b\[1m3/3\x1b\[0m \x1b\[32m━{{20}}\x1b\[0m\x1b\[37m\x1b\[0m \x1b\[1m\d+s\x1b\[0m "
                            rf"{TIME_PER_STEP} - accuracy: {FIGURE} - loss: {FIGURE} - val_accuracy: {FIGURE}"
                            rf" - val_loss: {FIGURE} *", last), repr(last)


def test_verbose_2_and_0_and_evaluate(small_model, colours, capsys) -> None:
    x, y = colours(24, 1)
    small_model.fit(x, y, batch_size=8, epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and len(lines) == 4
    assert re.fullmatch(rf"3/3 - \d+s - {TIME_PER_STEP} - accuracy: {FIGURE} - loss: {FIGURE}", lines[1]), lines[1]
    small_model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
    loss, accuracy = small_model.evaluate(x, y, batch_size=8)
    line = capsys.readouterr().out
    assert re.fullmatch(rf"3/3 ━{{20}} \d+s {TIME_PER_STEP} - accuracy: {FIGURE} - loss: {FIGURE}\n", line), line
    assert f"accuracy: {keras_figure(accuracy)} - loss: {keras_figure(loss)}" in line
    small_model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="verbose"):
        small_model.fit(x, y, verbose=3)


def weights(model: graft.TransferModel) -> list[np.ndarray]:
    return model.layers[-1].get_weights()


def test_ctrl_c_stops_fit_at_a_batch_boundary(small_model, colours, monkeypatch) -> None:
    """SIGINT raised in the middle of epoch 2: KeyboardInterrupt once the
    library has stopped; the model predicts and trains again."""
    x, y = colours(24, 1)
    report = progress.Progress.report

    def interrupting(self, p):
        report(self, p)
        if p.epoch == 1 and p.step == 2:
            signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(progress.Progress, "report", interrupting)
    default = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        small_model.fit(x, y, batch_size=8, epochs=5, verbose=0)
    assert signal.getsignal(signal.SIGINT) is default  # nothing left installed
    history = small_model.history
    assert history.stopped and history.epoch == [0] and len(history.history["loss"]) == 1

    monkeypatch.setattr(progress.Progress, "report", report)
    assert np.isfinite(small_model.predict(x)).all()
    before = weights(small_model)
    again = small_model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert again.epoch == [0] and not again.stopped
    assert not np.array_equal(before[0], weights(small_model)[0])


def test_ctrl_c_while_the_library_computes(small_model, colours, monkeypatch) -> None:
    """SIGINT from another thread while a batch runs is honoured at the next
    batch boundary."""
    x, y = colours(24, 1)
    started = threading.Event()
    report = progress.Progress.report

    def noting(self, *args, **kwargs):
        report(self, *args, **kwargs)
        started.set()

    monkeypatch.setattr(progress.Progress, "report", noting)
    sender = threading.Thread(target=lambda: started.wait(30) and os.kill(os.getpid(), signal.SIGINT))
    sender.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            small_model.fit(x, y, batch_size=8, epochs=200, verbose=0)
    finally:
        sender.join()
    assert small_model.history.stopped and len(small_model.history.epoch) < 200
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert small_model.predict(x[:2]).shape == (2, 3)


def test_ctrl_c_stops_evaluate(small_model, colours, monkeypatch) -> None:
    x, y = colours(24, 1)
    report = progress.Progress.report

    def interrupting(self, p):
        report(self, p)
        signal.raise_signal(signal.SIGINT)

    monkeypatch.setattr(progress.Progress, "report", interrupting)
    with pytest.raises(KeyboardInterrupt):
        small_model.evaluate(x, y, batch_size=8, verbose=0)
    monkeypatch.setattr(progress.Progress, "report", report)
    assert len(small_model.evaluate(x, y, batch_size=8, verbose=0)) == 2


def test_ctrl_c_goes_to_the_programs_own_handler(small_model, colours, monkeypatch) -> None:
    """A program's SIGINT handler runs once fit has stopped; if it does not
    raise, fit returns the completed epochs."""
    x, y = colours(24, 1)
    calls = []
    report = progress.Progress.report

    def interrupting(self, p):
        report(self, p)
        if p.epoch == 1 and p.step == 1:
            signal.raise_signal(signal.SIGINT)

    def handler(signum, frame):
        calls.append(signum)

    monkeypatch.setattr(progress.Progress, "report", interrupting)
    previous = signal.signal(signal.SIGINT, handler)
    try:
        history = small_model.fit(x, y, batch_size=8, epochs=4, verbose=0)
        assert signal.getsignal(signal.SIGINT) is handler
    finally:
        signal.signal(signal.SIGINT, previous)
    assert calls == [signal.SIGINT] and history.stopped and history.epoch == [0]


def test_an_error_while_printing_stops_fit_and_propagates(small_model, colours, monkeypatch) -> None:
    x, y = colours(24, 1)

    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError("stdout closed")

    monkeypatch.setattr("sys.stdout", Broken())
    with pytest.raises(BrokenPipeError):
        small_model.fit(x, y, batch_size=8, epochs=3)
    monkeypatch.undo()
    assert small_model.fit(x, y, batch_size=8, epochs=1, verbose=0).epoch == [0]


def test_fit_outside_the_main_thread(small_model, colours) -> None:
    """Signals are the main thread's: fit elsewhere installs no handler."""
    x, y = colours(24, 1)
    results = []
    worker = threading.Thread(target=lambda: results.append(small_model.fit(x, y, batch_size=8, verbose=0)))
    worker.start()
    worker.join()
    assert results and results[0].epoch == [0]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
