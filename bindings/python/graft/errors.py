"""The errors Graft reports, with the status codes of graft.h."""

from __future__ import annotations

import enum


class Status(enum.IntEnum):
    """graft_status: what kind of failure a library call reports."""

    OK = 0
    INVALID_ARGUMENT = 1
    IO = 2
    FORMAT = 3
    STATE = 4
    OUT_OF_MEMORY = 5
    INTERNAL = 6
    NUMERIC = 7
    CANCELLED = 8
    DISTRIBUTED = 9


class GraftError(RuntimeError):
    """A call into libgraft failed.

    What the library raises is also of the Python type Keras raises for the
    same failure (see `error_for`): `except ValueError` catches a bad
    argument, `except FileNotFoundError` a missing file.

    Attributes:
        status: the graft_status of the failed call (a `Status` when the
            library returns a code these bindings know, else the raw int).
        message: the library's description, from graft_last_error().
    """

    def __init__(self, status: int, message: str) -> None:
        try:
            self.status: int = Status(status)
        except ValueError:  # a code added by a newer library
            self.status = status
        self.message = message
        super().__init__(message)

    def __reduce__(self) -> tuple:
        # The default pickling replays only the message; rebuilding the error
        # needs the status too (multiprocessing sends exceptions by pickle).
        return (type(self), (self.status, self.message))

    def __repr__(self) -> str:
        name = self.status.name if isinstance(self.status, Status) else self.status
        return f"GraftError({name}, {self.message!r})"


class _InvalidArgument(GraftError, ValueError):
    """A GraftError that is also the ValueError Keras raises for a bad argument."""


class _BadFile(GraftError, ValueError):
    """A file that is not what it should be (Keras raises ValueError)."""


class _IOFailure(GraftError, OSError):
    """A file that cannot be read or written."""


class _FileMissing(GraftError, FileNotFoundError):
    """A file that does not exist (Keras raises FileNotFoundError)."""


class _OutOfMemory(GraftError, MemoryError):
    """An allocation the library could not make."""


def error_for(status: int, message: str) -> GraftError:
    """The GraftError of a failed call, also of the Python type Keras raises
    for such a failure: ValueError for a bad argument or a malformed file,
    FileNotFoundError for a missing file, OSError for other I/O failures,
    MemoryError; a plain GraftError (a RuntimeError) for the rest."""
    kind = {Status.INVALID_ARGUMENT: _InvalidArgument, Status.FORMAT: _BadFile,
            Status.OUT_OF_MEMORY: _OutOfMemory}.get(status, GraftError)
    if status == Status.IO:
        # The library's wording for a missing file: its own ("not found")
        # or the system's (ENOENT).
        missing = "not found" in message or "No such file or directory" in message
        kind = _FileMissing if missing else _IOFailure
    return kind(status, message)
