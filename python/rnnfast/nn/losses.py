"""Training losses, each returning the loss and its gradient w.r.t. the network output.

``cross_entropy`` and ``squared_error`` are weighted means over rows:
``loss = sum_i w_i l_i / sum_i w_i``, so sample and class weights change the balance between
rows but not the scale of the learning rate. ``ctc_loss`` follows torch's reductions.
"""

from __future__ import annotations

import numpy as np

from rnnfast._validation import check_step_scores
from rnnfast.backends import cpu

CTC_REDUCTIONS = ("mean", "sum", "none")


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Return ``log(softmax(logits))`` over the last axis, stable for any finite logits.

    Parameters
    ----------
    logits : ndarray
        Unnormalised scores, classes on the last axis.

    Returns
    -------
    ndarray
        Log-probabilities, shaped like ``logits``.
    """
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Return ``softmax(logits)`` over the last axis.

    Parameters
    ----------
    logits : ndarray
        Unnormalised scores, classes on the last axis.

    Returns
    -------
    ndarray
        Probabilities, shaped like ``logits``; each row sums to 1.
    """
    return np.exp(log_softmax(logits))


def cross_entropy(
    logits: np.ndarray, target: np.ndarray, weight: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Softmax cross-entropy, as ``torch.nn.functional.cross_entropy`` with weights.

    Parameters
    ----------
    logits : ndarray of shape (n, n_classes)
        Unnormalised class scores.
    target : int ndarray of shape (n,)
        Class indices in ``[0, n_classes)``.
    weight : ndarray of shape (n,), optional
        Non-negative row weights (sample weight times class weight); ones when omitted.

    Returns
    -------
    loss : float
        The weighted mean cross-entropy.
    grad : ndarray of shape (n, n_classes)
        Gradient w.r.t. ``logits``: ``w_i (softmax(logits_i) - onehot(target_i)) / sum(w)``.
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
    """Return the mean squared error over rows and outputs, and its gradient.

    The loss is ``sum_i w_i |p_i - t_i|^2 / (k sum(w))``.

    Parameters
    ----------
    prediction : ndarray of shape (n, k)
        The predictions.
    target : ndarray of shape (n, k)
        The targets.
    weight : ndarray of shape (n,), optional
        Non-negative row weights; ones when omitted.

    Returns
    -------
    loss : float
        The weighted mean squared error.
    grad : ndarray of shape (n, k)
        Gradient of ``loss`` w.r.t. ``prediction``.
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


def ctc_loss(
    logits: np.ndarray,
    targets,
    input_lengths=None,
    blank: int = 0,
    reduction: str = "mean",
    zero_infinity: bool = False,
) -> tuple[float | np.ndarray, np.ndarray]:
    """Connectionist Temporal Classification loss and its gradient w.r.t. the logits.

    The negative log-probability of each target label sequence, summed over every alignment
    of it to the input steps (with blanks between and around labels, and repeats collapsed),
    computed by the forward-backward recursion in log space in C++ (one thread per block of
    samples, GIL released). Values and gradients are those of
    ``torch.nn.functional.ctc_loss(logits.log_softmax(-1).transpose(0, 1), ...)``.

    Parameters
    ----------
    logits : ndarray of shape (n, time, n_classes)
        Unnormalised per-step class scores, batch-first (float64 stays float64, other real
        dtypes are computed in float32). The softmax is taken here.
    targets : sequence of n 1-D int arrays
        Sample i's labels, each in ``[0, n_classes)`` and not ``blank``; may be empty.
    input_lengths : array-like of int of shape (n,), optional
        Valid steps of each sample, in ``[1, time]``; all ``time`` when omitted.
    blank : int, default 0
        Index of the blank class.
    reduction : {"mean", "sum", "none"}, default "mean"
        ``"mean"``: each sample's loss divided by its target length (at least 1), then
        averaged over the batch (torch's definition); ``"sum"``: summed; ``"none"``: the
        per-sample losses.
    zero_infinity : bool, default False
        Give a sample whose target cannot be aligned to its input (too long: ``L + repeats >
        input length``) zero loss and zero gradient instead of ``inf`` loss and a NaN gradient.

    Returns
    -------
    loss : float, or ndarray of shape (n,) for ``reduction="none"``
        The loss as ``reduction`` asks.
    grad : ndarray of shape (n, time, n_classes)
        Gradient of ``loss`` w.r.t. ``logits`` (for ``"none"``: of the sum of the losses);
        zero past each input length.

    Raises
    ------
    TypeError
        Non-numeric logits, non-integer targets or lengths.
    ValueError
        NaN or infinite logits, a label equal to ``blank`` or out of range, a number of targets
        or lengths other than n, lengths outside ``[1, time]``, an unknown reduction.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnfast.nn.losses import ctc_loss
    >>> logits = np.random.default_rng(0).standard_normal((2, 6, 4)).astype(np.float32)
    >>> loss, grad = ctc_loss(logits, [np.array([1, 2]), np.array([3, 3])])
    >>> grad.shape
    (2, 6, 4)
    """
    logits, lengths, blank = check_step_scores(logits, "logits", input_lengths, blank)
    n, _, n_classes = logits.shape
    if reduction not in CTC_REDUCTIONS:
        raise ValueError(f"reduction must be one of {list(CTC_REDUCTIONS)}, got {reduction!r}")
    if not isinstance(zero_infinity, (bool, np.bool_)):
        raise TypeError(f"zero_infinity must be a bool, got {zero_infinity!r}")
    labels, offsets = _ctc_targets(targets, n, n_classes, blank)
    nll, grad = cpu.ctc_loss(logits, labels, offsets, lengths, blank, bool(zero_infinity))
    if reduction == "none":
        return nll, grad
    scale = np.ones(n, logits.dtype)
    if reduction == "mean":
        scale /= n * np.maximum(np.diff(offsets), 1)
    grad *= scale[:, None, None]
    return float((nll * scale).sum()), grad


def _ctc_targets(targets, n: int, n_classes: int, blank: int) -> tuple[np.ndarray, np.ndarray]:
    """Targets concatenated into one int64 array, with the offsets ``(n + 1,)`` of each."""
    if isinstance(targets, (str, bytes)) or not hasattr(targets, "__len__"):
        raise TypeError(f"targets must be a sequence of 1-D integer arrays, got {type(targets)}")
    if len(targets) != n:
        raise ValueError(
            f"targets must hold one label sequence per sample ({n}), got {len(targets)}"
        )
    rows = []
    for i, row in enumerate(targets):
        row = np.asarray(row)
        if row.dtype.kind not in "iu" and not (row.size == 0 and row.dtype.kind == "f"):
            raise TypeError(f"targets[{i}] must hold integer labels, got dtype {row.dtype}")
        if row.ndim != 1:
            raise ValueError(f"targets[{i}] must be 1-D, got shape {row.shape}")
        if row.size and (row.min() < 0 or row.max() >= n_classes):
            raise ValueError(f"targets[{i}] has labels outside [0, {n_classes}) (n_classes)")
        if (row == blank).any():
            raise ValueError(f"targets[{i}] contains the blank label {blank}")
        rows.append(row.astype(np.int64))
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    labels = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    return np.ascontiguousarray(labels, dtype=np.int64), offsets
