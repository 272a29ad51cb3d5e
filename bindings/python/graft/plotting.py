"""`graft.plot_history`: the accuracy and loss curves of a fit, with matplotlib."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence, Union

if TYPE_CHECKING:
    from .transfer import History

HistoryLike = Union["History", Mapping[str, Sequence[float]]]


def _require_matplotlib() -> Any:
    """matplotlib, or an ImportError that says how to get it."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError("graft.plot_history needs matplotlib, which is not installed: "
                          "pip install matplotlib (or pip install 'graft[plot]')") from error
    return matplotlib


def plot_history(history: HistoryLike, path: Optional[Union[str, os.PathLike]] = None,
                 title: Optional[str] = None) -> Optional[str]:
    """Draw the accuracy and the loss per epoch, training and validation,
    side by side, as the Keras tutorials do with matplotlib.

    Args:
        history: what `fit` returned (a History), or its `.history` dict:
            "accuracy", "loss" and optionally "val_accuracy", "val_loss",
            one value per epoch.
        path: where to save the figure (the format follows the extension:
            .png, .svg, .pdf, ...); None to show it in a window (or inline in
            a notebook) instead.
        title: a title above both plots.

    Returns:
        `path` as a string when given, else None.

    Raises:
        ImportError: matplotlib is not installed (pip install matplotlib).
        ValueError: the history holds neither accuracy nor loss.
    """
    _require_matplotlib()
    from matplotlib.ticker import MaxNLocator

    values: Mapping[str, Sequence[float]] = getattr(history, "history", history)
    panels = [(metric, label) for metric, label in (("accuracy", "Accuracy"), ("loss", "Loss"))
              if values.get(metric) or values.get(f"val_{metric}")]
    if not panels:
        raise ValueError("the history holds no accuracy or loss values: pass what fit returned")

    if path is not None:
        # No window: draw on a figure of its own, whatever backend pyplot uses.
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6 * len(panels), 4.5))
        axes = figure.subplots(1, len(panels), squeeze=False)[0]
    else:
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5), squeeze=False)
        axes = axes[0]

    for ax, (metric, label) in zip(axes, panels):
        for key, name, style in ((metric, f"Training {label.lower()}", "o-"),
                                 (f"val_{metric}", f"Validation {label.lower()}", "s--")):
            series = list(values.get(key) or [])
            if series:
                ax.plot(range(1, len(series) + 1), series, style, label=name, markersize=4)
        ax.set_title(f"Training and validation {label.lower()}")
        ax.set_xlabel("Epoch")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
        ax.legend()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        figure.suptitle(title)
    figure.tight_layout()

    if path is not None:
        target = os.fspath(path)
        figure.savefig(target, dpi=100)
        return str(target)
    import matplotlib.pyplot as plt

    plt.show()
    return None
