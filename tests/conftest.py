"""Shared helpers: building matching rnnfast / torch modules and a scalar test loss."""

from __future__ import annotations

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


def state_parts(state) -> tuple:
    return state if isinstance(state, tuple) else (state,)
