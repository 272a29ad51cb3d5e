"""`model.summary()`: Keras 3's table of a functional model, in plain text.

    Model: "functional"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━┓
    ┃ Layer (type)             ┃ Output Shape       ┃    Param # ┃ Connected to        ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━┩
    │ conv1_conv (Conv2D)      │ (None, 50, 50, 64) │      9,472 │ conv1_pad[0][0]     │
    ...
     Total params: 23,593,859 (90.00 MB)
     Trainable params: 6,147 (24.01 KB)
     Non-trainable params: 23,587,712 (89.98 MB)

Column widths, wrapping and the totals follow Keras's print_summary (which
renders with rich): the same text as Keras prints with a print_fn, without
colours.
"""

from __future__ import annotations

import ctypes
import math
import re
import shutil
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from . import _lib

# Keras's layout of a functional model's summary.
DEFAULT_LINE_LENGTH = 108
DEFAULT_POSITIONS = (0.3, 0.56, 0.74, 1.0)
HEADER = ("Layer (type)", "Output Shape", "Param #", "Connected to")
ALIGNMENT = ("left", "left", "right", "left")
BYTES_PER_PARAM = 4  # float32


@dataclass
class LayerInfo:
    """What a summary row says about one layer."""

    name: str
    class_name: str
    output_shape: tuple
    inputs: list[str]
    params: int
    trainable_params: int
    has_weights: bool
    trainable: bool


def layer_infos(handle: ctypes.c_void_p, count: int) -> list[LayerInfo]:
    """The first `count` layers of a library model (the caller holds its lock)."""
    library = _lib.lib
    names = [library.graft_model_layer_name(handle, i).decode() for i in range(count)]
    infos = []
    for i in range(count):
        class_name = library.graft_model_layer_class(handle, i)
        rank, dims = ctypes.c_int32(), (ctypes.c_int64 * 4)()
        _lib.check(library.graft_model_layer_output_shape(handle, i, ctypes.byref(rank), dims))
        inputs = [library.graft_model_layer_input(handle, i, k)
                  for k in range(max(0, library.graft_model_layer_input_count(handle, i)))]
        trainable = library.graft_model_layer_trainable(handle, i) == 1
        sizes = []
        for k in range(max(0, library.graft_model_layer_weight_count(handle, i))):
            w_rank, w_dims = ctypes.c_int32(), (ctypes.c_int64 * 4)()
            _lib.check(library.graft_model_layer_weight_shape(handle, i, k, ctypes.byref(w_rank), w_dims))
            sizes.append(math.prod(w_dims[:w_rank.value]))
        if class_name == b"BatchNormalization":
            # gamma and beta train; the moving mean and variance never do.
            trainable_sizes = sizes[:2]
        else:
            trainable_sizes = sizes
        infos.append(LayerInfo(
            name=names[i], class_name=(class_name or b"Layer").decode(),
            output_shape=(None, *dims[:rank.value]),
            inputs=[names[j] if 0 <= j < count else "?" for j in inputs],
            params=sum(sizes), trainable_params=sum(trainable_sizes) if trainable else 0,
            has_weights=bool(sizes), trainable=trainable))
    return infos


def readable_memory_size(size: float) -> str:
    """Bytes as Keras writes them: "89.98 MB", "24.01 KB", "0.00 B"."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size / 1024 < 1:
            return f"{size:.2f} {unit}"
        size /= 1024
    return f"{size:.2f} PB"


def format_shape(shape: tuple) -> str:
    """(None, 50, 50, 64)."""
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _ratio_reduce(total: int, ratios: list[int], maximums: list[int], values: list[int]) -> list[int]:
    """rich's ratio_reduce: take `total` from `values` in proportion to `ratios`."""
    ratios = [ratio if maximum else 0 for ratio, maximum in zip(ratios, maximums)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return list(values)
    remaining = total
    result = []
    for ratio, maximum, value in zip(ratios, maximums, values):
        if ratio and total_ratio > 0:
            distributed = min(maximum, round(ratio * remaining / total_ratio))
            result.append(value - distributed)
            remaining -= distributed
            total_ratio -= ratio
        else:
            result.append(value)
    return result


def column_widths(line_length: int, positions: Sequence[float]) -> list[int]:
    """Text width of each column (padding excluded) in a table `line_length`
    wide, as Keras asks rich for it and rich shrinks it to fit its borders."""
    requested, current = [], 0
    for position in positions:
        width = int(position * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        requested.append(width)
        current += width
    padded = [w + 2 for w in requested]
    available = line_length - (len(padded) + 1)  # one border between and around columns
    if sum(padded) > available:
        padded = _ratio_reduce(sum(padded) - available, [1] * len(padded), padded, padded)
    return [max(1, w - 2) for w in padded]


def wrap(text: str, width: int) -> list[str]:
    """Word-wrap `text` to `width` as rich does in a table cell: greedy, at
    spaces; a word longer than the width is cut with an ellipsis."""
    lines: list[str] = []
    line = ""
    for word in re.findall(r"\S+\s*", text) or [""]:
        if len(line) + len(word.rstrip()) <= width:
            line += word
        else:
            if line:
                lines.append(line)
            line = word
    lines.append(line)
    out = []
    for line in lines:
        line = line.rstrip()
        if len(line) > width:
            line = line[:width - 1] + "…"
        out.append(line)
    return out


def _row(cells: Sequence[str], widths: Sequence[int], alignment: Sequence[str], vertical: str) -> list[str]:
    """The text lines of one table row."""
    wrapped = [wrap(cell, width) for cell, width in zip(cells, widths)]
    height = max(len(lines) for lines in wrapped)
    out = []
    for n in range(height):
        parts = []
        for lines, width, align in zip(wrapped, widths, alignment):
            text = lines[n] if n < len(lines) else ""
            if align == "right":
                text = text.rjust(width)
            elif align == "center":
                text = text.center(width)
            else:
                text = text.ljust(width)
            parts.append(f" {text} ")
        out.append(vertical + vertical.join(parts) + vertical)
    return out


def _rule(widths: Sequence[int], left: str, middle: str, right: str, line: str) -> str:
    return left + middle.join(line * (w + 2) for w in widths) + right


def render(name: str, layers: Sequence[LayerInfo], line_length: Optional[int] = None,
           positions: Optional[Sequence[float]] = None, show_trainable: bool = False) -> str:
    """The summary's text, without a final newline."""
    header = list(HEADER)
    alignment = list(ALIGNMENT)
    default_length = DEFAULT_LINE_LENGTH
    positions = list(positions or DEFAULT_POSITIONS)
    if show_trainable:
        default_length += 12
        positions = [p * 0.90 for p in positions] + [1.0]
        header.append("Trainable")
        alignment.append("center")
    default_length = min(default_length, shutil.get_terminal_size().columns - 4)
    widths = column_widths(line_length or default_length, positions)

    lines = [f'Model: "{name}"', _rule(widths, "┏", "┳", "┓", "━")]
    lines += _row(header, widths, alignment, "┃")
    lines.append(_rule(widths, "┡", "╇", "┩", "━"))
    for i, layer in enumerate(layers):
        if i:
            lines.append(_rule(widths, "├", "┼", "┤", "─"))
        cells = [f"{layer.name} ({layer.class_name})", format_shape(layer.output_shape), f"{layer.params:,}",
                 ", ".join(f"{source}[0][0]" for source in layer.inputs) or "-"]
        if show_trainable:
            cells.append(("Y" if layer.trainable else "N") if layer.has_weights else "-")
        lines += _row(cells, widths, alignment, "│")
    lines.append(_rule(widths, "└", "┴", "┘", "─"))

    total = sum(layer.params for layer in layers)
    trainable = sum(layer.trainable_params for layer in layers)
    for label, count in (("Total", total), ("Trainable", trainable), ("Non-trainable", total - trainable)):
        lines.append(f" {label} params: {count:,} ({readable_memory_size(count * BYTES_PER_PARAM)})")
    return "\n".join(lines)


def print_summary(name: str, layers: Sequence[LayerInfo], line_length: Optional[int] = None,
                  positions: Optional[Sequence[float]] = None, print_fn: Optional[Callable[..., object]] = None,
                  show_trainable: bool = False) -> None:
    """Print the summary with `print`, or hand its text to `print_fn` in
    one call, as Keras 3 does."""
    text = render(name, layers, line_length, positions, show_trainable)
    (print_fn or print)(text)
