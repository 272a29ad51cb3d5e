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


class GraftError(RuntimeError):
    """A call into libgraft failed.

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
