"""Keras's progress output for fit and evaluate, and Ctrl-C during them.

`Progbar` draws Keras 3's bar,

    12/199 ━━━━━━━━━━━━━━━━━━━━ 3s 41ms/step - accuracy: 0.8125 - loss: 0.6312

redrawn in place on a terminal (or in a notebook) and written once, when the
pass ends, to a file or pipe. `Progress` turns the library's progress
reports into epochs of bars; `StopOnInterrupt` turns Ctrl-C into a request
that the library honours at the next batch boundary.
"""

from __future__ import annotations

import ctypes
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any, Callable, Mapping, Optional, TextIO, Union

from . import _lib

Verbose = Union[int, str]


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


class _Text:
    """Writes the library's text to a stream (sys.stdout at each write by
    default), and frees a progress handle with its owner."""

    def __init__(self, stream: Optional[TextIO], free: Callable[[ctypes.c_void_p], None]) -> None:
        self._stream = stream
        self._free = free
        self.handle = ctypes.c_void_p()

    @property
    def stream(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def write(self, status: int, text: ctypes.c_char_p) -> None:
        _lib.check(status)
        if text.value:
            self.stream.write(text.value.decode("utf-8"))
            self.stream.flush()

    def __del__(self) -> None:
        if self.handle:
            self._free(self.handle)


class Progbar:
    """Keras 3's `keras.utils.Progbar`: one pass (an epoch, or an
    evaluation), its text from the library (graft_progbar_*), which the
    `graft` command and C programs print too.

    verbose=1 on a terminal redraws `12/199 ━━━━ 3s 41ms/step - ...` in
    place (at most every `interval` seconds, and on the last step); on a
    file or pipe it writes the finished line only. verbose=2 writes
    `199/199 - 8s - 41ms/step - ...` when the pass ends; verbose=0 nothing.
    """

    def __init__(self, target: int, verbose: int = 1, width: Optional[int] = None, interval: Optional[float] = None,
                 stream: Optional[TextIO] = None, start: Optional[float] = None) -> None:
        """
        Args:
            target: steps in the pass.
            verbose: 0, 1 or 2.
            width: characters of the bar (default: Keras's, 20).
            interval: least time between two redraws, in seconds (default:
                Keras's, 0.05).
            stream: where to write; default sys.stdout at each write.
            start: time.monotonic() at which the pass began (default: now).
        """
        self.target = target
        self.verbose = verbose
        self._text = _Text(stream, _lib.lib.graft_progbar_free)
        _lib.check(_lib.lib.graft_progbar_create(target, verbose, width or 0, -1.0 if interval is None else interval,
                                                 time.monotonic() if start is None else start,
                                                 ctypes.byref(self._text.handle)))

    @property
    def stream(self) -> TextIO:
        """The stream written to."""
        return self._text.stream

    def update(self, current: int, values: Mapping[str, float], finalize: Optional[bool] = None,
               now: Optional[float] = None) -> None:
        """Draw step `current` of the pass with the figures `values` (name to
        value, in display order: running means, shown as they are).

        `finalize` (default: current >= target) ends the pass's line.
        """
        names = (ctypes.c_char_p * max(1, len(values)))(*(name.encode("utf-8") for name in values))
        figures = (ctypes.c_double * max(1, len(values)))(*values.values())
        text = ctypes.c_char_p()
        status = _lib.lib.graft_progbar_update(
            self._text.handle, current, names, figures, len(values), -1 if finalize is None else int(finalize),
            int(_is_dynamic(self.stream)), time.monotonic() if now is None else now, ctypes.byref(text))
        self._text.write(status, text)

    def close(self) -> None:
        """End a line left open by a pass that stopped early (Ctrl-C, an error)."""
        text = ctypes.c_char_p()
        self._text.write(_lib.lib.graft_progbar_close(self._text.handle, ctypes.byref(text)), text)


class Progress:
    """What fit and evaluate print, fed by the library's progress reports:
    the library's own text (graft_progress_printer_*), as the `graft` command
    and C programs print it. fit: `Epoch 3/20` before each epoch, then a bar
    redrawn after each batch and finished by the end-of-epoch report;
    evaluate: one bar.
    """

    def __init__(self, verbose: int, epochs: Optional[int], stream: Optional[TextIO] = None,
                 top_k_name: Optional[str] = None, note: str = "") -> None:
        """
        Args:
            verbose: 0, 1 or 2.
            epochs: epochs of a fit, or None for an evaluation (no `Epoch`
                lines; the bar ends with the last batch).
            stream: where to write; default sys.stdout.
            top_k_name: the name the reports' top-k accuracy is shown
                under; None: it is not shown.
            note: a line before a fit's first `Epoch` line (the fit's
                feature cache note); "" for none.
        """
        self.verbose = verbose
        self.epochs = epochs
        self.top_k_name = top_k_name
        self.note = note
        self._stream = stream
        self._text: Optional[_Text] = None

    def begin(self) -> None:
        """Called just before the library starts."""
        self._text = _Text(self._stream, _lib.lib.graft_progress_printer_free)
        _lib.check(_lib.lib.graft_progress_printer_create(self.verbose, self.epochs or 0, time.monotonic(),
                                                          ctypes.byref(self._text.handle)))
        if self.top_k_name is not None:
            _lib.check(_lib.lib.graft_progress_printer_set_top_k_name(self._text.handle, self.top_k_name.encode()))
        if self.note:
            _lib.check(_lib.lib.graft_progress_printer_set_note(self._text.handle, self.note.encode()))

    def report(self, report: "_lib.graft_progress") -> None:
        """One report of the library (a graft_progress): after a batch
        (running means), or at an epoch's end, the epoch's figures."""
        if self._text is None:
            self.begin()
        assert self._text is not None
        text = ctypes.c_char_p()
        status = _lib.lib.graft_progress_printer_report(self._text.handle, ctypes.byref(report),
                                                        int(_is_dynamic(self._text.stream)), time.monotonic(),
                                                        ctypes.byref(text))
        self._text.write(status, text)

    def end(self) -> None:
        """The library returned, or stopped early: end a line left open."""
        if self._text is not None:
            text = ctypes.c_char_p()
            self._text.write(_lib.lib.graft_progress_printer_end(self._text.handle, ctypes.byref(text)), text)


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
