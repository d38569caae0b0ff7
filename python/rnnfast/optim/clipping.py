"""Gradient clipping over a dict of gradient arrays, in place."""

from __future__ import annotations

import numpy as np

from rnnfast._validation import check_number

__all__ = ["clip_grad_norm", "clip_grad_value", "global_norm"]


def global_norm(grads: dict) -> float:
    """Return the Euclidean norm of all gradients taken together (float64 accumulation).

    Parameters
    ----------
    grads : dict of str to ndarray
        The gradients (a module's ``grads``).

    Returns
    -------
    float
        The global norm.
    """
    return float(np.sqrt(sum(float(np.dot(g.ravel(), g.ravel())) for g in grads.values())))


def clip_grad_norm(grads: dict, max_norm: float) -> float:
    """Scale all gradients by ``max_norm / norm`` when their global norm exceeds ``max_norm``.

    As in ``torch.nn.utils.clip_grad_norm_``, the scale is ``max_norm / (norm + 1e-6)``.

    Parameters
    ----------
    grads : dict of str to ndarray
        The gradients (a module's ``grads``), modified in place.
    max_norm : float
        The largest global norm allowed, positive.

    Returns
    -------
    float
        The norm before clipping (non-finite if any gradient is).
    """
    check_number(max_norm, "max_norm", 0, include_low=False)
    norm = global_norm(grads)
    scale = max_norm / (norm + 1e-6)
    if scale < 1:
        for g in grads.values():
            g *= g.dtype.type(scale)
    return norm


def clip_grad_value(grads: dict, clip_value: float) -> None:
    """Clamp every gradient entry to ``[-clip_value, clip_value]``.

    Parameters
    ----------
    grads : dict of str to ndarray
        The gradients (a module's ``grads``), modified in place.
    clip_value : float
        The largest magnitude allowed, positive.
    """
    check_number(clip_value, "clip_value", 0, include_low=False)
    for g in grads.values():
        np.clip(g, -clip_value, clip_value, out=g)
