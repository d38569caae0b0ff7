"""Mini-batches grouped by sequence length, so a batch is padded only to its own longest."""

from __future__ import annotations

import numpy as np


def bucketed_batches(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Index arrays of one epoch's mini-batches.

    Sequences are shuffled, stably sorted by length (so equal lengths stay shuffled), cut into
    batches of ``batch_size`` neighbours, and the batches are visited in random order. With all
    lengths equal this is ordinary shuffled mini-batching.
    """
    order = rng.permutation(len(lengths))
    order = order[np.argsort(lengths[order], kind="stable")]
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def inference_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Deterministic length-sorted batches for prediction (results are put back in order)."""
    order = np.argsort(lengths, kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def batch_lengths(lengths: np.ndarray) -> np.ndarray | None:
    """``lengths`` for the recurrent stack, or None when the batch has no padding."""
    return None if (lengths == lengths.max()).all() else lengths


def per_step_mask(lengths: np.ndarray, time_steps: int) -> np.ndarray:
    """``(n, time)`` boolean mask of the valid steps."""
    return np.arange(time_steps)[None, :] < lengths[:, None]
