"""Keras's losses that Graft's head trains with.

The head ends in Dense(num_classes) without an activation, so the loss takes
logits: `SparseCategoricalCrossentropy(from_logits=True)` with integer class
labels, Keras's usual transfer-learning loss, and what `compile` uses when
no loss is given. Other losses are refused by `compile` rather than ignored.
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


def _check(loss: Any) -> None:
    """Raises ValueError unless `loss` is one Graft trains with."""
    if loss is None:
        return
    if isinstance(loss, SparseCategoricalCrossentropy):
        config = loss.get_config()
        if not config["from_logits"]:
            raise ValueError("the head gives logits (no softmax): use "
                             "graft.losses.SparseCategoricalCrossentropy(from_logits=True)")
        if config["ignore_class"] is not None or config["reduction"] != "sum_over_batch_size":
            raise ValueError("Graft's SparseCategoricalCrossentropy takes no ignore_class and reduces by "
                             "sum_over_batch_size (the mean over the batch)")
        return
    if isinstance(loss, str) and loss == "sparse_categorical_crossentropy":
        raise ValueError('loss="sparse_categorical_crossentropy" expects probabilities, and the head gives logits: '
                         "use graft.losses.SparseCategoricalCrossentropy(from_logits=True)")
    raise ValueError(f"Graft trains with SparseCategoricalCrossentropy(from_logits=True) only; received loss={loss!r}")


__all__ = ["Loss", "SparseCategoricalCrossentropy"]
