"""graft.plot_history: accuracy and loss curves with matplotlib."""

from __future__ import annotations

import sys

import pytest

import graft

HISTORY = {"accuracy": [0.5, 0.7, 0.9], "loss": [1.2, 0.8, 0.4],
           "val_accuracy": [0.4, 0.6, 0.8], "val_loss": [1.3, 0.9, 0.6]}


def test_plot_history_saves_both_panels(tmp_path) -> None:
    pytest.importorskip("matplotlib")  # a test-only dependency (pip install matplotlib)
    history = graft.History(HISTORY, [0, 1, 2], False)
    png = graft.plot_history(history, tmp_path / "curves.png")
    assert png == str(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "curves.svg")
    graft.plot_history(HISTORY, svg, title="beans")  # a plain dict works too
    text = svg.read_text()
    for label in ("Training accuracy", "Validation accuracy", "Training loss", "Validation loss", "Epoch", "beans"):
        assert label in text
    # Training figures only (no validation data): one curve a panel.
    graft.plot_history({"accuracy": [0.5, 0.6], "loss": [1.0, 0.9]}, tmp_path / "train.png")
    with pytest.raises(ValueError, match="no accuracy or loss"):
        graft.plot_history({}, tmp_path / "empty.png")


def test_plot_history_without_matplotlib_says_how_to_install_it(monkeypatch, tmp_path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now fails
    with pytest.raises(ImportError, match="pip install matplotlib"):
        graft.plot_history(HISTORY, tmp_path / "curves.png")
    assert not (tmp_path / "curves.png").exists()
