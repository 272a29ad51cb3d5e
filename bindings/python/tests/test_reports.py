"""graft.history_text: the library's table, CSV and chart of fits' histories."""

from __future__ import annotations

import math

import pytest

import graft


def test_history_text_of_two_phases() -> None:
    frozen = {"loss": [0.6312, 0.5], "accuracy": [0.8125, 0.875]}
    fine_tune = {"loss": [0.25], "accuracy": [0.9375], "val_loss": [0.3], "val_accuracy": [0.5]}
    table = graft.history_text(frozen, fine_tune, phases=["frozen", "fine-tune"])
    lines = table.splitlines()
    assert lines[0].split() == ["epoch", "phase", "loss", "accuracy", "val_loss", "val_accuracy"]
    assert lines[1].split() == ["1", "frozen", "0.6312", "0.8125", "nan", "nan"]
    assert lines[3].split() == ["3", "fine-tune", "0.2500", "0.9375", "0.3000", "0.5000"]
    csv = graft.history_text(frozen, fine_tune, phases=["frozen", "fine-tune"], format="csv").splitlines()
    assert csv[0] == "epoch,phase,loss,accuracy,val_loss,val_accuracy"
    assert csv[1] == "1,frozen,0.6312,0.8125,," and csv[3] == "3,fine-tune,0.25,0.9375,0.3,0.5"
    svg = graft.history_text(frozen, fine_tune, phases=["frozen", "fine-tune"], format="svg")
    assert svg.startswith("<svg") and "polyline" in svg
    # One fit without phases: the table has no phase column.
    assert graft.history_text(frozen).splitlines()[0].split() == ["epoch", "loss", "accuracy"]
    assert not math.isnan(float(graft.history_text(frozen).splitlines()[2].split()[1]))


def test_history_text_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="format"):
        graft.history_text({"loss": [1.0], "accuracy": [0.5]}, format="png")
    with pytest.raises(ValueError, match="phases"):
        graft.history_text({"loss": [1.0], "accuracy": [0.5]}, phases=["a", "b"])
