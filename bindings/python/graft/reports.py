"""`graft.history_text`: the per-epoch figures of one or more fits as text, a
table to print, CSV, or an SVG chart of accuracy and loss, from the library
(graft_history_text): the text the `graft` command writes (history.csv,
history.svg) and C programs print. `plot_history` draws with matplotlib
instead, as the Keras tutorials do.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping, Optional, Sequence, Union

from . import _lib

if TYPE_CHECKING:
    from .transfer import History

HistoryLike = Union["History", Mapping[str, Sequence[float]]]

FORMATS = {"table": 0, "csv": 1, "svg": 2}


def history_text(*histories: HistoryLike, phases: Optional[Sequence[str]] = None, format: str = "table") -> str:
    """The epochs of `histories` (what fit returned, or its `.history` dict),
    one fit after another, as text.

    Args:
        histories: one History (or dict of "loss", "accuracy", "val_loss",
            "val_accuracy" lists) per fit, in order.
        phases: a name per history ("frozen", "fine-tune"), shown where one
            fit ends and the next begins; None for no names.
        format: "table", "csv" or "svg".

    Raises:
        ValueError: an unknown format, or as many phases as histories not given.
    """
    if format not in FORMATS:
        raise ValueError(f'format must be "table", "csv" or "svg", received: {format!r}')
    if phases is not None and len(phases) != len(histories):
        raise ValueError(f"{len(phases)} phases for {len(histories)} histories")
    rows = []
    for h, history in enumerate(histories):
        values: Mapping[str, Sequence[float]] = getattr(history, "history", history)
        phase = phases[h].encode("utf-8") if phases is not None else None
        for e in range(len(values.get("loss", []))):
            def figure(name: str) -> float:
                series = values.get(name) or []
                return float(series[e]) if e < len(series) else math.nan
            rows.append(_lib.graft_epoch_figures(phase, figure("loss"), figure("accuracy"), figure("val_loss"),
                                                 figure("val_accuracy")))
    epochs = (_lib.graft_epoch_figures * max(1, len(rows)))(*rows)
    return _lib.sized_text(_lib.lib.graft_history_text, epochs, len(rows), FORMATS[format])
