"""Shared helpers: building matching rnnfast / torch modules and a scalar test loss."""

from __future__ import annotations

import os

# sklearn's check_array_api_input runs only with SciPy's array-API mode on, which SciPy reads
# when it is first imported: set it before anything imports scipy, so the check is not skipped.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np
import pytest

from rnnfast import nn

# (name, rnnfast constructor, torch class name, torch kwargs)
CELLS = {
    "rnn_tanh": (
        lambda *a, **k: nn.RNN(*a, nonlinearity="tanh", **k),
        "RNN",
        {"nonlinearity": "tanh"},
    ),
    "rnn_relu": (
        lambda *a, **k: nn.RNN(*a, nonlinearity="relu", **k),
        "RNN",
        {"nonlinearity": "relu"},
    ),
    "lstm": (nn.LSTM, "LSTM", {}),
    "gru": (nn.GRU, "GRU", {}),
}


def make_module(cell: str, input_size: int, hidden_size: int, **kwargs):
    return CELLS[cell][0](input_size, hidden_size, **kwargs)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def random_state_like(module, rng: np.random.Generator, batch: int):
    """A random initial state (or its gradient) with the module's structure."""
    shape = (module.num_layers * module.num_directions, batch, module.hidden_size)
    h = rng.standard_normal(shape).astype(module.dtype)
    if isinstance(module, nn.LSTM):
        return h, rng.standard_normal(shape).astype(module.dtype)
    return h


def central_difference(f, array: np.ndarray, index, eps: float = 1e-6) -> float:
    """``d f() / d array[index]`` by central differences (``array`` is restored)."""
    saved = array[index]
    array[index] = saved + eps
    up = f()
    array[index] = saved - eps
    down = f()
    array[index] = saved
    return (up - down) / (2 * eps)


def numeric_gradient(f, array: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """``d f() / d array`` for every entry, by central differences."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        grad[index] = central_difference(f, array, index, eps)
    return grad


def state_parts(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)


# every architecture an exporter must handle: cell x direction x depth x lengths
ARCHITECTURES = [
    (cell, bidirectional, layers, with_lengths)
    for cell in nn.CELL_TYPES
    for bidirectional in (False, True)
    for layers in (1, 2)
    for with_lengths in (False, True)
]


def architecture_id(case) -> str:
    cell, bidirectional, layers, with_lengths = case
    return (
        f"{cell}-{'bi' if bidirectional else 'uni'}-L{layers}-"
        f"{'lengths' if with_lengths else 'full'}"
    )


def network_for(case, per_step: bool, dtype=np.float32) -> nn.SequenceNetwork:
    """A SequenceNetwork (3 features in, hidden 5, 2 outputs) of one ``ARCHITECTURES`` case."""
    cell, bidirectional, layers, _ = case
    return nn.SequenceNetwork(
        cell,
        3,
        5,
        2,
        num_layers=layers,
        bidirectional=bidirectional,
        per_step=per_step,
        dtype=dtype,
        random_state=1,
    )
