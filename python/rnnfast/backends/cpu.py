"""CPU backend: the C++ extension ``rnnfast._core_<level>`` chosen for this CPU by
:mod:`rnnfast._dispatch` (one layer, one direction per call).

Every function here takes time-major, C-contiguous arrays of the layer's dtype; the checks that
give users friendly errors happen in :mod:`rnnfast.nn`, and the extension re-checks shapes.
"""

from __future__ import annotations

import math

import numpy as np

from rnnfast._blas_loader import load_core
from rnnfast._dispatch import built_levels, supported_levels

_core = load_core()

CELLS = ("rnn_tanh", "rnn_relu", "lstm", "gru")

# Streams (one time step per call, state kept in the extension), float32 and float64.
Stream32 = _core.Stream32
Stream64 = _core.Stream64


# The extension's forward for each kind of reduced-precision pack (pack_layer(..., precision)).
_REDUCED_FORWARD = {_core.PackedLayerBFloat16: "_bfloat16", _core.PackedLayerInt8: "_int8"}
_FORWARD_FUNCTIONS: dict[tuple[str, type], object] = {}  # (cell, type of packed): function


def layer_forward(cell: str, *args, packed=None):
    """``<cell>_forward`` of the extension, or ``<cell>_forward_<precision>`` when ``packed``
    holds reduced-precision packs (the pack says which); returns ``(h_n, c_n, cache)``.

    ``args`` are the extension's, in its order: ``x, w_ih, w_hh, b_ih, b_hh, h0, c0, lengths,
    reverse, training, y, y_col, y_batch_first``. They are passed on by position, the function
    looked up once per cell and pack kind: pybind11 matches keywords by name at every call,
    which cost a few microseconds of a call that serves one short sequence in about twenty."""
    key = (cell, type(packed))
    function = _FORWARD_FUNCTIONS.get(key)
    if function is None:
        suffix = _REDUCED_FORWARD.get(type(packed), "")
        function = _FORWARD_FUNCTIONS.setdefault(key, getattr(_core, f"{cell}_forward{suffix}"))
    return function(*args, packed)


def pack_layer(w_ih, w_hh, gates: int, precision: str = "float"):
    """One layer's weights packed once, for ``layer_forward(..., packed=)`` (inference).

    ``w_ih``: ``(gates * H, I)``, ``w_hh``: ``(gates * H, H)``, C-contiguous, float32 or
    float64 alike ("bfloat16" and "int8": float32 only, finite); the pack copies them (later
    changes do not reach it)."""
    if precision == "float":
        return _core.pack_layer(w_ih, w_hh, gates)
    return getattr(_core, f"pack_layer_{precision}")(w_ih, w_hh, gates)


def quantize_rows_int8(w):
    """``(q int8 (rows, inputs), scale float32 (rows,))`` of a float32 matrix, exactly as the
    int8 packs quantize its rows (``w ~= q * scale[:, None]``)."""
    return _core.quantize_rows_int8(w)


def bfloat16_bits(w):
    """The bfloat16 bit patterns (uint16, same shape) of a float32 array, rounded as the
    bfloat16 packs round it."""
    return _core.bfloat16_bits(w)


def layer_backward(cell: str, *args, **kwargs):
    """``<cell>_backward`` of the extension; returns ``(dh0, dc0)``, overwrites the cache."""
    return getattr(_core, f"{cell}_backward")(*args, **kwargs)


def runtime_info() -> dict[str, object]:
    """BLAS kernel and threading of the loaded extension."""
    return {
        "cpu_level": _core.cpu_level,
        "cpu_levels_built": ", ".join(built_levels()),
        "cpu_levels_supported": ", ".join(
            level for level in supported_levels() if level != "native"
        ),
        "blas": "scipy-openblas32 (" + _core.blas_config().strip() + ")",
        "blas_corename": _core.blas_corename(),
        "openmp": _core.openmp_enabled(),
        "threads": _core.openmp_max_threads(),
        "blas_threads_per_block": _core.blas_num_threads(),
        "int8_kernel": _core.int8_kernel,
        "bfloat16_kernel": _core.bfloat16_kernel,
    }


def set_num_threads(n: int) -> None:
    """Threads rnnfast computes with (OpenMP; each thread's BLAS calls stay single-threaded)."""
    _core.set_openmp_num_threads(n)


# How layers share their time loop among threads (csrc/core/step_split.h): chosen by shape
# unless forced; tests force each path.
STEP_SPLITS = {"auto": 0, "rows": 1, "columns": 2}


def set_step_split(split: str) -> str:
    """Force the split of every layer's time loop (``"auto"``: by shape); returns the previous."""
    if split not in STEP_SPLITS:
        raise ValueError(f"split must be one of {sorted(STEP_SPLITS)}, got {split!r}")
    previous = {v: k for k, v in STEP_SPLITS.items()}[_core.step_split()]
    _core.set_step_split(STEP_SPLITS[split])
    return previous


def step_split_for(batch: int, hidden: int, w_hh_bytes: int, training: bool) -> str:
    """The split a layer call of ``batch`` rows and ``hidden`` units would take now
    (``"rows"`` or ``"columns"``), its W_hh taking ``w_hh_bytes`` as packed."""
    names = {v: k for k, v in STEP_SPLITS.items()}
    return names[_core.choose_step_split(batch, hidden, w_hh_bytes, training)]


def column_split_bytes() -> int | None:
    """W_hh bytes above which inference at batches 5-16 splits by columns (None: never, as on
    CPUs other than Intel's and AMD's from Zen 5: each core's L2 on Intel's, 4x it on Zen 5)."""
    limit = _core.column_split_bytes()
    return None if limit >= 2**63 else limit


def read_bandwidth(n_bytes: int, threads: int, passes: int = 50) -> float:
    """Bytes per second ``threads`` threads together read a buffer of ``n_bytes`` that they
    read ``passes`` times over (each its own share): the limit of small-batch steps, which
    read all of W_hh every step (the benchmark's floor)."""
    return _core.read_bandwidth(n_bytes, threads, passes)


def release_workspaces() -> int:
    """Free the pooled buffers kept between layer calls; returns the bytes freed."""
    return _core.release_workspaces()


# Float arrays of at least this many bytes come from the pool (a step's output, its gradients):
# fresh ones of that size faulted in their pages at every training step (see
# csrc/bindings/pooled_array.h, which sets the size); smaller ones stay with numpy's allocator,
# here, without a call into the extension.
POOLED_MIN_BYTES = _core.pooled_array_min_bytes
_POOLED_EMPTY = {
    np.dtype(np.float32): _core.pooled_empty_float32,
    np.dtype(np.float64): _core.pooled_empty_float64,
}


def empty(shape: tuple[int, ...], dtype) -> np.ndarray:
    """An uninitialised C-contiguous array, from the workspace pool when it is a large float
    one: its memory goes back to the pool, not to the system, when the array dies."""
    dtype = np.dtype(dtype)
    pooled = _POOLED_EMPTY.get(dtype)
    if pooled is None or math.prod(shape) * dtype.itemsize < POOLED_MIN_BYTES:
        return np.empty(shape, dtype)
    return pooled(list(shape))


def zeros(shape: tuple[int, ...], dtype) -> np.ndarray:
    """:func:`empty`, filled with zeros."""
    array = empty(shape, dtype)
    array.fill(0)
    return array


def cached_workspace_bytes() -> int:
    """Bytes of pooled buffers kept between layer calls, idle now."""
    return _core.cached_workspace_bytes()


def ctc_loss(logits, labels, offsets, input_lengths, blank: int, zero_infinity: bool):
    """Per-sample CTC losses ``(N,)`` and their gradients w.r.t. ``logits`` ``(N, T, C)``."""
    return _core.ctc_loss(logits, labels, offsets, input_lengths, blank, zero_infinity)


def ctc_beam_search(log_probs, input_lengths, beam_size: int, blank: int):
    """Prefix beam search per sample: ``(list of label arrays, log-probabilities (N,))``."""
    return _core.ctc_beam_search(log_probs, input_lengths, beam_size, blank)
