"""Sequence metrics: edit distance and label error rate (the score of
:class:`rnnfast.SequenceTranscriber`)."""

from __future__ import annotations

import numpy as np


def edit_distance(reference, hypothesis) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions that turn
    ``hypothesis`` into ``reference``.

    Parameters
    ----------
    reference, hypothesis : str or 1-D sequence of hashable labels

    Returns
    -------
    int

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
    """Total edit distance over total reference length (weighted per sequence when
    ``sample_weight`` is given); 0 is perfect, and it can exceed 1.

    Parameters
    ----------
    references, hypotheses : sequences of equal length of str or 1-D label sequences
    sample_weight : array-like of shape (n,), optional

    Returns
    -------
    float

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


def _codes(reference, hypothesis) -> tuple[list, np.ndarray]:
    """Both sequences as integer codes of a shared vocabulary (so any hashable labels work)."""
    vocabulary: dict = {}
    ref = [vocabulary.setdefault(_hashable(x), len(vocabulary)) for x in reference]
    hyp = [vocabulary.setdefault(_hashable(x), len(vocabulary)) for x in hypothesis]
    return ref, np.asarray(hyp, dtype=np.int64)


def _hashable(label):
    return label.item() if isinstance(label, np.generic) else label
