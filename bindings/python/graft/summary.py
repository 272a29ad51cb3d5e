"""`model.summary()`: Keras 3's table of a functional model, in plain text,
from the library (graft_model_summary), which prints it for C programs and
the `graft` command too.

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
colours. `layer_infos` reads the figures of each layer, for count_params.
"""

from __future__ import annotations

import ctypes
import math
import shutil
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

from . import _lib

@dataclass
class LayerInfo:
    """One layer's figures, as Keras's model.layers report them."""

    name: str
    class_name: str
    output_shape: tuple
    inputs: list[str]
    params: int


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
        params = 0
        for k in range(max(0, library.graft_model_layer_weight_count(handle, i))):
            w_rank, w_dims = ctypes.c_int32(), (ctypes.c_int64 * 4)()
            _lib.check(library.graft_model_layer_weight_shape(handle, i, k, ctypes.byref(w_rank), w_dims))
            params += math.prod(w_dims[:w_rank.value])
        infos.append(LayerInfo(name=names[i], class_name=(class_name or b"Layer").decode(),
                               output_shape=(None, *dims[:rank.value]),
                               inputs=[names[j] if 0 <= j < count else "?" for j in inputs], params=params))
    return infos


def summary_text(handle: ctypes.c_void_p, name: str, line_length: Optional[int] = None,
                 positions: Optional[Sequence[float]] = None, show_trainable: bool = False,
                 base_only: bool = False) -> str:
    """The library's summary text (graft_model_summary), which the `graft`
    command and C programs print too (the caller holds the model's lock).

    Raises:
        ValueError: a line length or positions the columns do not fit in, as
            Keras raises it.
    """
    options = _lib.graft_summary_options()
    _lib.lib.graft_summary_options_init_sized(ctypes.byref(options), ctypes.sizeof(options))
    options.name = name.encode("utf-8")
    options.line_length = line_length or 0
    options.terminal_columns = shutil.get_terminal_size().columns
    if positions is not None:
        options.positions = (ctypes.c_double * len(positions))(*positions)
        options.positions_count = len(positions)
    options.show_trainable = int(show_trainable)
    options.base_only = int(base_only)
    needed = ctypes.c_size_t()

    def call(buffer: Optional[ctypes.Array], capacity: int) -> None:
        status = _lib.lib.graft_model_summary(handle, ctypes.byref(options), buffer, capacity, ctypes.byref(needed))
        if status == _lib.Status.INVALID_ARGUMENT:
            raise ValueError(_lib.last_error())
        _lib.check(status)

    call(None, 0)  # the size
    text = ctypes.create_string_buffer(needed.value)
    call(text, needed.value)
    return text.value.decode("utf-8")


def print_summary(text: str, print_fn: Optional[Callable[..., object]] = None) -> None:
    """Print the summary with `print`, or hand its text to `print_fn` in
    one call, as Keras 3 does."""
    (print_fn or print)(text)
