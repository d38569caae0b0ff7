"""Training losses, each returning the loss and its gradient w.r.t. the network output.

Both are weighted means over rows: ``loss = sum_i w_i l_i / sum_i w_i``, so sample and class
weights change the balance between rows but not the scale of the learning rate.
"""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """``log(softmax(logits))`` over the last axis, stable for any finite logits."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    return np.exp(log_softmax(logits))


def cross_entropy(
    logits: np.ndarray, target: np.ndarray, weight: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy, as ``torch.nn.functional.cross_entropy`` with weights.

    Parameters
    ----------
    logits : ndarray of shape (n, n_classes)
    target : int ndarray of shape (n,)
        Class indices in ``[0, n_classes)``.
    weight : ndarray of shape (n,), optional
        Non-negative row weights (sample weight times class weight); ones when omitted.

    Returns
    -------
    loss : float
    grad : ndarray of shape (n, n_classes)
        ``w_i (softmax(logits_i) - onehot(target_i)) / sum(w)``.
    """
    n = logits.shape[0]
    weight = _row_weights(weight, n, logits.dtype)
    log_p = log_softmax(logits)
    rows = np.arange(n)
    total = weight.sum()
    loss = -(weight * log_p[rows, target]).sum() / total
    grad = np.exp(log_p)
    grad[rows, target] -= 1
    grad *= (weight / total)[:, None]
    return float(loss), grad.astype(logits.dtype, copy=False)


def squared_error(
    prediction: np.ndarray, target: np.ndarray, weight: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Mean squared error over rows and outputs, ``sum_i w_i |p_i - t_i|^2 / (k sum(w))``.

    ``prediction`` and ``target`` are ``(n, k)``; returns the loss and its gradient.
    """
    n, k = prediction.shape
    weight = _row_weights(weight, n, prediction.dtype)
    diff = prediction - target
    total = weight.sum() * k
    loss = (weight * (diff * diff).sum(axis=1)).sum() / total
    grad = diff * (2 * weight / total)[:, None]
    return float(loss), grad.astype(prediction.dtype, copy=False)


def _row_weights(weight: np.ndarray | None, n: int, dtype) -> np.ndarray:
    if weight is None:
        return np.ones(n, dtype)
    weight = np.asarray(weight, dtype)
    if weight.shape != (n,):
        raise ValueError(f"weight must have shape ({n},), got {weight.shape}")
    if weight.sum() <= 0:
        raise ValueError("weight must have a positive sum")
    return weight
