"""Decoding CTC outputs into label sequences: best path (greedy) and prefix beam search.

Both take per-step class scores ``(n, time, n_classes)``: logits or log-probabilities (the
decoders take the log-softmax themselves, which leaves log-probabilities unchanged).
"""

from __future__ import annotations

import numpy as np

from rnnfast._validation import check_number, check_step_scores
from rnnfast.backends import cpu
from rnnfast.nn.losses import log_softmax


def ctc_greedy_decode(scores, input_lengths=None, blank: int = 0) -> list[np.ndarray]:
    """Decode the best path: the likeliest class per step, repeats collapsed, blanks dropped.

    Parameters
    ----------
    scores : ndarray of shape (n, time, n_classes)
        Logits or log-probabilities.
    input_lengths : array-like of int of shape (n,), optional
        Valid steps of each sample, in ``[1, time]``; all ``time`` when omitted.
    blank : int, default 0
        Index of the blank class.

    Returns
    -------
    list of n int64 ndarrays
        Each sample's labels.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnfast.nn.ctc_decode import ctc_greedy_decode
    >>> steps = np.array([1, 1, 0, 1, 2, 2, 0])  # blank = 0
    >>> ctc_greedy_decode(np.eye(3)[steps][None])[0].tolist()
    [1, 1, 2]
    """
    scores, lengths, blank = check_step_scores(scores, "scores", input_lengths, blank)
    n, time, _ = scores.shape
    best = scores.argmax(axis=-1)
    previous = np.concatenate([np.full((n, 1), -1), best[:, :-1]], axis=1)
    keep = (best != blank) & (best != previous) & (np.arange(time) < lengths[:, None])
    return [best[i, keep[i]].astype(np.int64) for i in range(n)]


def ctc_beam_decode(
    scores,
    input_lengths=None,
    blank: int = 0,
    beam_size: int = 10,
    *,
    return_scores: bool = False,
):
    """Decode by prefix beam search: the most probable label sequence over its alignments.

    The ``beam_size`` best prefixes are kept at every step (in C++, parallel over samples), each
    scored by the sum over its alignments.

    With ``beam_size`` at least the number of distinct label prefixes the search is exact;
    ``beam_size=1`` keeps one prefix but, unlike :func:`ctc_greedy_decode`, still sums the
    alignments of that prefix.

    Parameters
    ----------
    scores : ndarray of shape (n, time, n_classes)
        Logits or log-probabilities.
    input_lengths : array-like of int of shape (n,), optional
        Valid steps of each sample, in ``[1, time]``; all ``time`` when omitted.
    blank : int, default 0
        Index of the blank class.
    beam_size : int, default 10
        Prefixes kept per step (at least 1).
    return_scores : bool, default False
        Also return each result's log-probability (over the alignments the beam kept).

    Returns
    -------
    labels : list of n int64 ndarrays
        Each sample's best label sequence.
    log_probs : ndarray of shape (n,)
        Log-probability of each best sequence; only with ``return_scores``.
    """
    scores, lengths, blank = check_step_scores(scores, "scores", input_lengths, blank)
    beam_size = check_number(beam_size, "beam_size", 1, integer=True)
    log_probs = np.ascontiguousarray(log_softmax(scores))
    labels, log_p = cpu.ctc_beam_search(log_probs, lengths, beam_size, blank)
    return (labels, log_p) if return_scores else labels
