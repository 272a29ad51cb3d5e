"""Keras's losses that Graft's head trains with.

The head ends in Dense(num_classes) without an activation, so the loss takes
logits: `SparseCategoricalCrossentropy(from_logits=True)` with integer class
labels, Keras's usual transfer-learning loss and what `compile` uses when no
loss is given, or `CategoricalCrossentropy(from_logits=True,
label_smoothing=...)` with one-hot labels. Other losses are refused by
`compile` rather than ignored.
"""

from __future__ import annotations

from typing import Any, Optional


class Loss:
    """Base of the losses `compile` takes."""

    def get_config(self) -> dict[str, Any]:
        return dict(self._config)


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy between integer labels and the logits, the mean over
    the batch (Keras's "sum_over_batch_size" reduction)."""

    def __init__(self, from_logits: bool = False, ignore_class: Optional[int] = None,
                 reduction: str = "sum_over_batch_size", name: str = "sparse_categorical_crossentropy") -> None:
        self.from_logits = from_logits
        self._config = {"from_logits": from_logits, "ignore_class": ignore_class, "reduction": reduction,
                        "name": name}

    def __repr__(self) -> str:
        return f"SparseCategoricalCrossentropy(from_logits={self.from_logits})"


class CategoricalCrossentropy(Loss):
    """Cross-entropy between one-hot labels and the logits, the mean over the
    batch; `label_smoothing` ε makes the target (1 − ε)·one-hot + ε/classes.
    The labels must be one-hot (they carry a class each, as Graft's datasets
    do); soft labels are refused."""

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str = "sum_over_batch_size", name: str = "categorical_crossentropy") -> None:
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self._config = {"from_logits": from_logits, "label_smoothing": label_smoothing, "axis": axis,
                        "reduction": reduction, "name": name}

    def __repr__(self) -> str:
        return (f"CategoricalCrossentropy(from_logits={self.from_logits}, "
                f"label_smoothing={self.label_smoothing})")


def _check(loss: Any) -> tuple[bool, float]:
    """Whether `loss` takes one-hot labels, and its label smoothing; raises
    ValueError unless it is a loss Graft trains with (None: the default,
    SparseCategoricalCrossentropy(from_logits=True))."""
    if loss is None:
        return False, 0.0
    if isinstance(loss, (SparseCategoricalCrossentropy, CategoricalCrossentropy)):
        config = loss.get_config()
        kind = type(loss).__name__
        if not config["from_logits"]:
            raise ValueError(f"the head gives logits (no softmax): use graft.losses.{kind}(from_logits=True)")
        if config.get("ignore_class") is not None or config.get("axis", -1) != -1 \
                or config["reduction"] != "sum_over_batch_size":
            raise ValueError(f"Graft's {kind} takes no ignore_class or axis and reduces by sum_over_batch_size "
                             "(the mean over the batch)")
        one_hot = isinstance(loss, CategoricalCrossentropy)
        return one_hot, float(config["label_smoothing"]) if one_hot else 0.0
    if isinstance(loss, str) and loss in ("sparse_categorical_crossentropy", "categorical_crossentropy"):
        name = "".join(part.capitalize() for part in loss.split("_"))
        raise ValueError(f'loss="{loss}" expects probabilities, and the head gives logits: use '
                         f"graft.losses.{name}(from_logits=True)")
    raise ValueError("Graft trains with SparseCategoricalCrossentropy or CategoricalCrossentropy "
                     f"(from_logits=True); received loss={loss!r}")


__all__ = ["CategoricalCrossentropy", "Loss", "SparseCategoricalCrossentropy"]
