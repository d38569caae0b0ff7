"""Inverted dropout: the one mask formula shared by the recurrent stacks and the networks."""

from __future__ import annotations

import numpy as np


def dropout_mask(
    rng: np.random.Generator, shape: tuple[int, ...], rate: float, dtype: np.dtype
) -> np.ndarray:
    """Mask that zeroes each entry with probability ``rate`` and scales the rest by ``1/(1-rate)``.

    Multiplying by the mask in the forward and by the same mask in the backward is the whole of
    dropout; scaling at training time keeps inference a plain forward.
    """
    keep = rng.random(shape) >= rate
    return keep.astype(dtype) / dtype.type(1.0 - rate)
