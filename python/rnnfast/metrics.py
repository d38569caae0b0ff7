"""Sequence metrics: edit distance and label error rate (the score of
:class:`rnnfast.SequenceTranscriber`), and chrF for translations."""

from __future__ import annotations

import numpy as np


def edit_distance(reference, hypothesis) -> int:
    """Count the fewest insertions, deletions and substitutions turning one sequence into another.

    This is the Levenshtein distance from ``hypothesis`` to ``reference``.

    Parameters
    ----------
    reference, hypothesis : str or 1-D sequence of hashable labels
        The two sequences (a string's characters are its labels).

    Returns
    -------
    int
        The distance.

    Examples
    --------
    >>> from rnnfast.metrics import edit_distance
    >>> edit_distance("kitten", "sitting")
    3
    """
    ref, hyp = _codes(reference, hypothesis)
    # Row by row over the reference; within a row, insertions chain left to right:
    # row[j] = min_k<=j (base[k] + j - k), a running minimum of base - j.
    columns = np.arange(len(hyp) + 1)
    row = columns.copy()
    for i, label in enumerate(ref, 1):
        base = np.empty_like(row)
        base[0] = i
        base[1:] = np.minimum(row[1:] + 1, row[:-1] + (hyp != label))
        row = np.minimum.accumulate(base - columns) + columns
    return int(row[-1])


def label_error_rate(references, hypotheses, sample_weight=None) -> float:
    """Return the total edit distance over the total reference length.

    0 is perfect, and it can exceed 1.

    Parameters
    ----------
    references, hypotheses : sequences of equal length of str or 1-D label sequences
        The reference transcriptions and the ones to score.
    sample_weight : array-like of shape (n,), optional
        Weight of each pair's distance and length; None weighs all equally.

    Returns
    -------
    float
        The label error rate.

    Raises
    ------
    ValueError
        Different numbers of references and hypotheses, a ``sample_weight`` of another length,
        or references of total length 0.
    """
    if len(references) != len(hypotheses):
        raise ValueError(
            f"references and hypotheses must have the same length, got {len(references)} and "
            f"{len(hypotheses)}"
        )
    weights = np.ones(len(references)) if sample_weight is None else np.asarray(sample_weight)
    if weights.shape != (len(references),):
        raise ValueError(f"sample_weight must have shape ({len(references)},), got {weights.shape}")
    distances = np.array(
        [edit_distance(r, h) for r, h in zip(references, hypotheses, strict=True)], float
    )
    lengths = np.array([len(r) for r in references], float)
    total = float((weights * lengths).sum())
    if total <= 0:
        raise ValueError("the label error rate needs references with at least one label")
    return float((weights * distances).sum() / total)


def chrf(references, hypotheses, *, order: int = 6, beta: float = 2.0) -> float:
    """Character n-gram F-score of translations (chrF, Popovic 2015), 0 to 100.

    For each n-gram order ``1..order`` the matches, hypothesis n-grams and reference n-grams
    are summed over the corpus (whitespace removed, as sacrebleu's chrF does), giving a
    precision ``P_n`` and recall ``R_n``; the score is the mean over the orders that occur
    of ``(1 + beta^2) P_n R_n / (beta^2 P_n + R_n)``: recall weighs ``beta`` times as much.
    An order that only one side has (a hypothesis longer than every reference, or shorter)
    counts 0; an order neither side has is left out.

    Parameters
    ----------
    references, hypotheses : sequences of str of equal length
        The reference translations and the ones to score.
    order : int, default 6
        The longest character n-gram.
    beta : float, default 2
        How many times recall weighs as much as precision.

    Returns
    -------
    float
        The score, 0 to 100.

    Examples
    --------
    >>> from rnnfast.metrics import chrf
    >>> chrf(["Arabisch"], ["Arabisch"])
    100.0
    >>> round(chrf(["ab"], ["abc"]), 2)  # F of 1-grams 0.909, 2-grams 0.833, 3-grams 0
    58.08
    """
    references, hypotheses = list(references), list(hypotheses)
    if len(references) != len(hypotheses):
        raise ValueError(
            f"references ({len(references)}) and hypotheses ({len(hypotheses)}) differ in length"
        )
    if not all(isinstance(t, str) for t in references + hypotheses):
        raise TypeError("references and hypotheses must be strings")
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    from collections import Counter

    totals = np.zeros((order, 3))  # matches, hypothesis n-grams, reference n-grams
    for reference, hypothesis in zip(references, hypotheses, strict=True):
        ref, hyp = "".join(reference.split()), "".join(hypothesis.split())
        for n in range(1, order + 1):
            ref_grams = Counter(ref[i : i + n] for i in range(len(ref) - n + 1))
            hyp_grams = Counter(hyp[i : i + n] for i in range(len(hyp) - n + 1))
            matches = sum((ref_grams & hyp_grams).values())
            totals[n - 1] += (matches, sum(hyp_grams.values()), sum(ref_grams.values()))
    scores = []
    for matches, n_hyp, n_ref in totals:
        if n_hyp == 0 or n_ref == 0:
            if n_ref > 0 or n_hyp > 0:
                scores.append(0.0)  # one side has n-grams of this order, the other none
            continue
        precision, recall = matches / n_hyp, matches / n_ref
        denominator = beta * beta * precision + recall
        scores.append(
            0.0 if denominator == 0 else (1 + beta * beta) * precision * recall / denominator
        )
    return 100.0 * float(np.mean(scores)) if scores else 0.0


def _codes(reference, hypothesis) -> tuple[list, np.ndarray]:
    """Both sequences as integer codes of a shared vocabulary (so any hashable labels work)."""
    vocabulary: dict = {}
    ref = [vocabulary.setdefault(_hashable(x), len(vocabulary)) for x in reference]
    hyp = [vocabulary.setdefault(_hashable(x), len(vocabulary)) for x in hypothesis]
    return ref, np.asarray(hyp, dtype=np.int64)


def _hashable(label):
    return label.item() if isinstance(label, np.generic) else label
