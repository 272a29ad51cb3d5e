"""Keras's losses that Graft's head trains with.

The head ends in Dense(num_classes) without an activation, so the loss takes
logits: `SparseCategoricalCrossentropy(from_logits=True)` with integer class
labels, Keras's usual transfer-learning loss and what `compile` uses when no
loss is given, or `CategoricalCrossentropy(from_logits=True,
label_smoothing=...)` with one-hot labels. The binary head (num_classes=1,
one logit) takes `BinaryCrossentropy(from_logits=True, label_smoothing=...)`
on labels 0 and 1, its default. Other losses are refused by `compile` rather
than ignored.
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


class BinaryCrossentropy(Loss):
    """Cross-entropy between labels 0 or 1 and the binary head's one logit,
    the mean over the batch; `label_smoothing` ε makes the target
    y·(1 − ε) + ε/2. Labels may be (n,) or (n, 1), as
    image_dataset_from_directory(label_mode="binary") gives them; soft
    labels are refused."""

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0, axis: int = -1,
                 reduction: str = "sum_over_batch_size", name: str = "binary_crossentropy") -> None:
        self.from_logits = from_logits
        self.label_smoothing = label_smoothing
        self._config = {"from_logits": from_logits, "label_smoothing": label_smoothing, "axis": axis,
                        "reduction": reduction, "name": name}

    def __repr__(self) -> str:
        return f"BinaryCrossentropy(from_logits={self.from_logits}, label_smoothing={self.label_smoothing})"


# Keras's string names of the losses (which expect probabilities).
_LOSS_NAMES = {"sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
               "categorical_crossentropy": CategoricalCrossentropy,
               "binary_crossentropy": BinaryCrossentropy}


def _check(loss: Any, binary_head: bool, probabilities: bool = False) -> tuple[type, float]:
    """The class of `loss` and its label smoothing; raises ValueError unless
    it is a loss Graft trains the head with (None: the default,
    SparseCategoricalCrossentropy(from_logits=True), or for the binary head
    BinaryCrossentropy(from_logits=True)). `probabilities`: the head's output
    Dense has softmax or sigmoid (a model read from Keras), so its loss takes
    from_logits=False, as in Keras; Graft computes it from the logits beneath."""
    if loss is None:
        return (BinaryCrossentropy if binary_head else SparseCategoricalCrossentropy), 0.0
    if isinstance(loss, str) and loss in _LOSS_NAMES and probabilities:
        loss = _LOSS_NAMES[loss]()
    if isinstance(loss, tuple(_LOSS_NAMES.values())):
        config = loss.get_config()
        kind = type(loss).__name__
        if config["from_logits"] == probabilities:
            raise ValueError(f"the head gives probabilities (its output Dense has an activation): use "
                             f"graft.losses.{kind}(from_logits=False)" if probabilities else
                             f"the head gives logits (no softmax): use graft.losses.{kind}(from_logits=True)")
        if config.get("ignore_class") is not None or config.get("axis", -1) != -1 \
                or config["reduction"] != "sum_over_batch_size":
            raise ValueError(f"Graft's {kind} takes no ignore_class or axis and reduces by sum_over_batch_size "
                             "(the mean over the batch)")
        if binary_head != isinstance(loss, BinaryCrossentropy):
            raise ValueError(f"the head has one logit: use graft.losses.BinaryCrossentropy(from_logits=True), "
                             f"not {kind}" if binary_head else
                             f"{kind} needs a head of one logit (num_classes=1); this head has several classes: use "
                             "SparseCategoricalCrossentropy or CategoricalCrossentropy")
        return type(loss), float(config.get("label_smoothing", 0.0))
    if isinstance(loss, str) and loss in _LOSS_NAMES:
        raise ValueError(f'loss="{loss}" expects probabilities, and the head gives logits: use '
                         f"graft.losses.{_LOSS_NAMES[loss].__name__}(from_logits=True)")
    raise ValueError("Graft trains with SparseCategoricalCrossentropy, CategoricalCrossentropy or (for a head of "
                     f"one logit) BinaryCrossentropy, from_logits=True; received loss={loss!r}")


__all__ = ["BinaryCrossentropy", "CategoricalCrossentropy", "Loss", "SparseCategoricalCrossentropy"]
