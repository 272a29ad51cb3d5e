"""Keras's progress output for fit and evaluate, and Ctrl-C during them.

`Progbar` draws Keras 3's bar,

    12/199 ━━━━━━━━━━━━━━━━━━━━ 3s 41ms/step - accuracy: 0.8125 - loss: 0.6312

redrawn in place on a terminal (or in a notebook) and written once, when the
pass ends, to a file or pipe. `Progress` turns the library's progress
reports into epochs of bars; `StopOnInterrupt` turns Ctrl-C into a request
that the library honours at the next batch boundary.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any, Callable, Mapping, Optional, TextIO, Union

Verbose = Union[int, str]

# Keras's order of the figures on a line.
METRICS = ("accuracy", "loss", "val_accuracy", "val_loss")

_BOLD, _GREEN, _WHITE, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"


def verbosity(verbose: Verbose) -> int:
    """Keras's verbose argument as 0, 1 or 2 ("auto" is 1).

    Raises:
        ValueError: anything else.
    """
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f'verbose must be 0, 1, 2 or "auto", received: {verbose!r}')
    return int(verbose)


def _is_dynamic(stream: TextIO) -> bool:
    """Whether `stream` can redraw a line with carriage returns: a terminal or
    a Jupyter notebook (Keras's test, less its assumption that every POSIX
    process writes to a terminal)."""
    isatty = getattr(stream, "isatty", None)
    try:
        if isatty is not None and isatty():
            return True
    except ValueError:  # a closed stream
        return False
    return "ipykernel" in sys.modules


def format_value(value: float) -> str:
    """A figure as Keras prints it: 4 decimals, or 4 significant digits
    in exponent form when tiny."""
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


def format_time_per_step(seconds: float) -> str:
    """" 41ms/step", " 2s/step", " 850us/step", as Keras writes them."""
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/step"
    return f" {seconds * 1e6:.0f}us/step"


def format_eta(seconds: float) -> str:
    """Time left: "3s", "1:05", "1:02:03"."""
    if seconds > 3600:
        return "%d:%02d:%02d" % (seconds // 3600, (seconds % 3600) // 60, seconds % 60)
    if seconds > 60:
        return "%d:%02d" % (seconds // 60, seconds % 60)
    return "%ds" % seconds


class Progbar:
    """One pass (an epoch, or an evaluation) drawn as Keras 3 draws it.

    verbose=1 on a terminal redraws `12/199 ━━━━ 3s 41ms/step - ...` in
    place (at most every `interval` seconds, and on the last step); on a
    file or pipe it writes the finished line only. verbose=2 writes
    `199/199 - 8s - 41ms/step - ...` when the pass ends; verbose=0 nothing.
    The time per step leaves out the first step (which pays for warm-up), as
    Keras's does.
    """

    def __init__(self, target: int, verbose: int = 1, width: int = 20, interval: float = 0.05,
                 stream: Optional[TextIO] = None, start: Optional[float] = None) -> None:
        """
        Args:
            target: steps in the pass.
            verbose: 0, 1 or 2.
            width: characters of the bar.
            interval: least time between two redraws, in seconds.
            stream: where to write; default sys.stdout at each write.
            start: time.monotonic() at which the pass began (default: now).
        """
        self.target = target
        self.verbose = verbose
        self.width = width
        self.interval = interval
        self._stream = stream
        self._start = time.monotonic() if start is None else start
        self._after_first_step: Optional[float] = None
        self._last_draw = 0.0
        self._previous_width = 0
        self._open_line = False  # a redrawn line without its newline yet
        self.finalized = False

    @property
    def stream(self) -> TextIO:
        """The stream written to."""
        return self._stream if self._stream is not None else sys.stdout

    def update(self, current: int, values: Mapping[str, float], finalize: Optional[bool] = None,
               now: Optional[float] = None) -> None:
        """Draw step `current` of the pass with the figures `values` (name to
        value, in display order: running means, shown as they are).

        `finalize` (default: current >= target) ends the pass's line.
        """
        if finalize is None:
            finalize = current >= self.target
        now = time.monotonic() if now is None else now
        per_step = self._step_duration(current, now)
        figures = "".join(f" - {name}: {format_value(value)}" for name, value in values.items())
        if self.verbose == 1:
            dynamic = _is_dynamic(self.stream)
            if not finalize and (not dynamic or now - self._last_draw < self.interval):
                return
            digits = int(math.log10(self.target)) + 1 if self.target > 0 else 1
            count = f"{current:{digits}d}/{self.target}"
            done = int(self.width * current / self.target) if self.target > 0 else self.width
            done = max(0, min(self.width, done))
            if finalize:
                timing = f"{now - self._start:.0f}s"
            else:
                timing = format_eta(per_step * (self.target - current))
            info = f"{timing}{format_time_per_step(per_step)}{figures}"
            if dynamic:
                bar = f"{_GREEN}{'━' * done}{_RESET}" if done else ""
                line = (f"{_BOLD}{count}{_RESET} {bar}{_WHITE}{'━' * (self.width - done)}{_RESET} "
                        f"{_BOLD}{timing}{_RESET}{format_time_per_step(per_step)}{figures}")
                visible = len(count) + 1 + self.width + 1 + len(info)
                padding = " " * max(0, self._previous_width - visible)
                self._write("\r" + line + padding + ("\n" if finalize else ""))
                self._previous_width = visible
                self._open_line = not finalize
            else:
                self._write(f"{count} {'━' * self.width} {info}\n")
            self._last_draw = now
        elif self.verbose == 2 and finalize:
            digits = int(math.log10(self.target)) + 1 if self.target > 0 else 1
            self._write(f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s -"
                        f"{format_time_per_step(per_step)}{figures}\n")
        if finalize:
            self.finalized = True

    def close(self) -> None:
        """End a line left open by a pass that stopped early (Ctrl-C, an error)."""
        if self._open_line:
            self._write("\n")
            self._open_line = False

    def _step_duration(self, current: int, now: float) -> float:
        """Seconds per step so far, the first step left out once there are more."""
        if current <= 0:
            return 0.0
        if self._after_first_step is not None and current > 1:
            duration = (now - self._after_first_step) / (current - 1)
        else:
            duration = (now - self._start) / current
        if current == 1:
            self._after_first_step = now
        return duration

    def _write(self, text: str) -> None:
        stream = self.stream
        stream.write(text)
        stream.flush()


class Progress:
    """What fit and evaluate print, fed by the library's progress reports.

    fit: `Epoch 3/20` before each epoch, then a `Progbar` redrawn after each
    batch and finished by the library's end-of-epoch report (made after the
    epoch's validation), which adds the validation figures. evaluate: one
    `Progbar`.
    """

    def __init__(self, verbose: int, epochs: Optional[int], stream: Optional[TextIO] = None) -> None:
        """
        Args:
            verbose: 0, 1 or 2.
            epochs: epochs of a fit, or None for an evaluation (no `Epoch`
                lines; the bar ends with the last batch).
            stream: where to write; default sys.stdout.
        """
        self.verbose = verbose
        self.epochs = epochs
        self._stream = stream
        self._epoch = -1
        self._announced = -1
        self._bar: Optional[Progbar] = None
        self._epoch_start = time.monotonic()

    def _print(self, text: str) -> None:
        if self.verbose:
            stream = self._stream if self._stream is not None else sys.stdout
            stream.write(text + "\n")
            stream.flush()

    def _announce(self, epoch: int) -> None:
        """Print `Epoch N/M` for 0-based `epoch`, once. (The first one waits
        for the first batch, so that a fit the library refuses prints nothing.)"""
        if self.epochs is not None and epoch > self._announced:
            self._print(f"Epoch {epoch + 1}/{self.epochs}")
            self._announced = epoch

    def begin(self) -> None:
        """Called just before the library starts."""
        self._epoch_start = time.monotonic()

    def report(self, epoch: int, step: int, steps: int, loss: float, accuracy: float,
               epoch_end: bool = False, val_loss: float = math.nan, val_accuracy: float = math.nan) -> None:
        """One report of the library: after batch `step` of `steps` in 0-based
        `epoch` (running means), or, with `epoch_end`, the epoch's figures."""
        now = time.monotonic()
        if epoch != self._epoch or self._bar is None:
            if self._bar is not None:
                self._bar.close()
            self._announce(epoch)
            self._epoch = epoch
            self._bar = Progbar(steps, self.verbose, stream=self._stream, start=self._epoch_start)
        figures = {"accuracy": accuracy, "loss": loss}
        if epoch_end:
            if not math.isnan(val_accuracy):
                figures["val_accuracy"] = val_accuracy
            if not math.isnan(val_loss):
                figures["val_loss"] = val_loss
            self._bar.update(steps, figures, finalize=True, now=now)
            self._epoch_start = now
            if self.epochs is not None and epoch + 1 < self.epochs:
                self._announce(epoch + 1)  # as Keras, when the next epoch begins
        else:
            # In fit, the epoch's line ends with its end-of-epoch report.
            last = self.epochs is None and step >= steps
            self._bar.update(step, figures, finalize=last, now=now)

    def end(self) -> None:
        """The library returned, or stopped early: end a line left open."""
        if self._bar is not None:
            self._bar.close()


SignalHandler = Union[Callable[[int, Optional[FrameType]], Any], int, None]


class StopOnInterrupt:
    """Ctrl-C (SIGINT) during a long library call, handled at batch boundaries.

    Inside the `with` block, SIGINT only sets `requested` (the progress
    callback then asks the library to stop at the next batch boundary, so
    no weight is left half-updated). On leaving the block the previous
    handler is put back and, if SIGINT came, called: Python's default one
    raises KeyboardInterrupt, as Keras lets it propagate. Nothing is
    installed outside the main thread (where Python delivers signals) or
    when SIGINT is ignored or left to the system.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: SignalHandler = None
        self._installed = False

    def _handler(self, signum: int, frame: Optional[FrameType]) -> None:
        self.requested = True

    def __enter__(self) -> "StopOnInterrupt":
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):
                self._previous = previous
                signal.signal(signal.SIGINT, self._handler)
                self._installed = True
        return self

    def restore(self) -> None:
        """Put the previous SIGINT handler back (once)."""
        if self._installed:
            signal.signal(signal.SIGINT, self._previous)
            self._installed = False

    def deliver(self) -> None:
        """Hand a SIGINT received in the block to the previous handler (by
        default: raise KeyboardInterrupt). Call after `restore`."""
        if self.requested and callable(self._previous):
            self.requested = False
            self._previous(signal.SIGINT, None)

    def __exit__(self, *exc_info: object) -> None:
        self.restore()
