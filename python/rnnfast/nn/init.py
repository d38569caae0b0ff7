"""Parameter initialisers for the recurrent stacks."""

from __future__ import annotations

import numpy as np


def torch_default_uniform(
    rng: np.random.Generator, shape: tuple[int, ...], hidden_size: int, dtype: np.dtype
) -> np.ndarray:
    """``U(-1/sqrt(hidden), 1/sqrt(hidden))``, torch.nn.RNN/LSTM/GRU's default for every tensor."""
    bound = 1.0 / np.sqrt(hidden_size)
    return rng.uniform(-bound, bound, size=shape).astype(dtype)
