"""Checking and padding the sequence inputs the estimators accept.

Three forms are accepted, all batch-first:

- a 3-D array ``(n_sequences, time, n_features)``;
- a 2-D array ``(n_sequences, time)``: univariate sequences (one feature per step);
- a list of 2-D ``(time_i, n_features)`` (or 1-D ``(time_i,)``) arrays of different lengths.

They become one zero-padded float array and a lengths vector.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse
from sklearn.utils.validation import check_array

from rnnfast._validation import all_finite


@dataclass
class Sequences:
    """Padded sequences and their lengths, as the estimators hold their input.

    Parameters
    ----------
    values : ndarray of shape (n, max_time, n_features)
        The sequences, zero past each length.
    lengths : ndarray of shape (n,)
        Valid steps of each sequence.
    form : {"3d", "2d", "list"}
        The form the input came in, so that per-step results go back in the same form.
    """

    values: np.ndarray
    lengths: np.ndarray
    form: str

    @property
    def n_features(self) -> int:
        """Features per step."""
        return self.values.shape[2]

    def __len__(self) -> int:
        return self.values.shape[0]

    def subset(self, index: np.ndarray) -> Sequences:
        """Select the sequences at ``index``.

        Parameters
        ----------
        index : ndarray of int or bool
            Which sequences.

        Returns
        -------
        Sequences
            Those sequences, cut to their longest length.
        """
        lengths = self.lengths[index]
        longest = int(lengths.max()) if len(lengths) else 0
        return Sequences(self.values[index, :longest], lengths, self.form)

    def unpad(self, per_step: np.ndarray) -> np.ndarray | list[np.ndarray]:
        """Return per-step results in the input's form.

        Parameters
        ----------
        per_step : ndarray of shape (n, time, ...)
            A result for every padded step.

        Returns
        -------
        ndarray or list of ndarray
            ``per_step`` itself, or for list input a list cut to each sequence's length.
        """
        if self.form == "list":
            return [per_step[i, : self.lengths[i]] for i in range(len(self))]
        return per_step


def check_sequences(
    X,
    *,
    name: str = "X",
    n_features: int | None = None,
    estimator: object = None,
    dtype=np.float32,
) -> Sequences:
    """Validate ``X`` (any accepted form) and pad it.

    Parameters
    ----------
    X : array, list of arrays, or pandas DataFrame
        Sequences: ``(n, time, n_features)`` or ``(n, time)``, a list of
        ``(time_i, n_features)`` arrays of different lengths, or one of sktime's panel
        DataFrames (nested or multi-index).
    name : str, default "X"
        The argument's name in error messages.
    n_features : int, optional
        The feature count ``X`` must have (a fitted estimator's ``n_features_in_``).
    estimator : object, optional
        Named in error messages.
    dtype : numpy dtype, default float32
        The dtype of the padded values.

    Returns
    -------
    Sequences
        The padded values, lengths and the input's form.

    Raises
    ------
    TypeError
        Sparse matrices; non-numeric values.
    ValueError
        Wrong number of dimensions, no sequences, a sequence with no steps, NaN or infinity,
        complex values, or a feature count other than ``n_features``.
    """
    owner = f" for {type(estimator).__name__}" if estimator is not None else ""
    panel = _panel_from_pandas(X, name)
    if panel is not None:
        X = panel
    if scipy.sparse.issparse(X):
        raise TypeError(
            f"{name} is a sparse matrix; {type(estimator).__name__ if estimator else 'rnnfast'} "
            "needs dense sequences (a 2-D or 3-D array or a list of arrays)"
        )
    if isinstance(X, (list, tuple)):
        for i, item in enumerate(X):
            if scipy.sparse.issparse(item):
                raise TypeError(
                    f"{name}[{i}] is a sparse matrix; rnnfast needs dense sequences (arrays)"
                )
    if isinstance(X, (list, tuple)) and _is_ragged(X):
        sequences = _pad_list(X, name, dtype)
    else:
        if isinstance(X, (list, tuple)) and len(X) == 0:
            raise ValueError(f"{name} has 0 sequences; at least one is required{owner}")
        array = _unchanged_by_check_array(X, dtype)
        if array is None:
            array = check_array(
                X,
                ensure_2d=False,
                allow_nd=True,
                dtype=dtype,
                ensure_min_features=0,
                input_name=name,
                estimator=estimator,
            )
        if array.ndim not in (2, 3):
            raise ValueError(
                f"Expected 2D array, got {array.ndim}D array instead: {name} must be "
                "(n_sequences, time) for univariate sequences or (n_sequences, time, n_features). "
                "Reshape your data with array.reshape(1, -1) if it is a single sequence."
            )
        if array.ndim == 2 and array.shape[1] == 0:
            # sklearn's wording, which its estimator checks look for; here columns are steps
            raise ValueError(
                f"0 feature(s) (shape={array.shape}) while a minimum of 1 is required{owner}: "
                "2-D X is (n_sequences, time), and each sequence needs at least one step."
            )
        form = "2d" if array.ndim == 2 else "3d"
        if array.ndim == 3 and panel is None:
            _warn_if_channels_first(array.shape, name)
        values = array[:, :, None] if array.ndim == 2 else array
        if values.shape[1] == 0:
            raise ValueError(f"{name} has sequences of length 0 (shape {array.shape}){owner}")
        if values.shape[2] == 0:
            raise ValueError(f"{name} has 0 features per step (shape {array.shape}){owner}")
        lengths = np.full(values.shape[0], values.shape[1], np.int64)
        sequences = Sequences(np.ascontiguousarray(values), lengths, form)
    if n_features is not None and sequences.n_features != n_features:
        raise ValueError(
            f"{name} has {sequences.n_features} features per time step, but "
            f"{type(estimator).__name__ if estimator else 'the model'} is expecting "
            f"{n_features} features as input"
        )
    return sequences


def _unchanged_by_check_array(X, dtype) -> np.ndarray | None:
    """``X`` itself where scikit-learn's ``check_array`` would return it unchanged: a numpy
    array already of ``dtype``, 2-D or 3-D, not empty, all finite. None otherwise (then
    ``check_array`` converts it or raises its usual error).

    ``check_array`` spends about 90 us on any array (its pandas and array-API dispatch), a
    seventh of a one-sample ``predict`` of a small network.
    """
    if type(X) is not np.ndarray or X.dtype != dtype or X.ndim not in (2, 3) or X.size == 0:
        return None
    return X if all_finite(X) else None


def _panel_from_pandas(X, name: str) -> list[np.ndarray] | None:
    """sktime's panel DataFrames as a list of ``(time_i, channels)`` arrays, else None.

    Two kinds are read: "nested" (a row per sequence, a column per channel, each cell a
    ``pandas.Series`` of that channel's values) and "multi-index" (rows indexed by
    ``(sequence, time)``, a column per channel). Any other DataFrame is left to the usual
    2-D reading (a row per sequence, a column per step).
    """
    pd = sys.modules.get("pandas")  # a DataFrame means pandas is imported already
    if pd is None or not isinstance(X, pd.DataFrame):
        return None
    if isinstance(X.index, pd.MultiIndex):
        if X.index.nlevels != 2:
            raise ValueError(
                f"{name} has a {X.index.nlevels}-level row index; a panel DataFrame is indexed "
                "by (sequence, time)"
            )
        return [group.to_numpy() for _, group in X.groupby(level=0, sort=False)]
    if X.size == 0 or not isinstance(X.iat[0, 0], pd.Series):
        return None
    sequences = []
    for i in range(X.shape[0]):
        channels = [X.iat[i, j] for j in range(X.shape[1])]
        if not all(isinstance(c, pd.Series) for c in channels):
            raise TypeError(f"{name} row {i}: a nested panel DataFrame holds a Series per cell")
        if len({len(c) for c in channels}) != 1:
            raise ValueError(f"{name} row {i}: its channels have different lengths")
        sequences.append(np.column_stack([c.to_numpy() for c in channels]))
    return sequences


def _warn_if_channels_first(shape: tuple, name: str) -> None:
    """Warn when a 3-D array looks like sktime's (n, channels, time) layout: a feature axis
    many times longer than the time axis, e.g. (40, 6, 100) for 6 channels of 100 steps."""
    _, time, features = shape
    if features >= max(20, 8 * time):
        warnings.warn(
            f"{name} has shape {shape}, read as (n_sequences, time={time}, "
            f"features={features}). If it is (n_sequences, channels, time), sktime's layout, "
            f"pass {name}.transpose(0, 2, 1) (or sktime's DataFrame itself).",
            UserWarning,
            stacklevel=4,
        )


def _is_ragged(X) -> bool:
    """Whether the items differ in shape (length or features), so that each is checked and
    padded on its own instead of being stacked into one array."""
    shapes = set()
    for item in X:
        try:
            shapes.add(np.shape(item))
        except ValueError:  # an inhomogeneous nested list: checked item by item
            return True
    return len(shapes) > 1


def _pad_list(X, name: str, dtype) -> Sequences:
    arrays = []
    for i, item in enumerate(X):
        array = check_array(
            item,
            ensure_2d=False,
            dtype=dtype,
            ensure_min_samples=0,
            ensure_min_features=0,
            input_name=f"{name}[{i}]",
        )
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2:
            raise ValueError(
                f"{name}[{i}] must be a 1-D (time,) or 2-D (time, n_features) array, "
                f"got shape {array.shape}"
            )
        if array.shape[0] == 0:
            raise ValueError(f"{name}[{i}] has 0 time steps; every sequence needs at least one")
        arrays.append(array)
    widths = {a.shape[1] for a in arrays}
    if len(widths) > 1:
        raise ValueError(f"the sequences of {name} have different feature counts {sorted(widths)}")
    lengths = np.array([a.shape[0] for a in arrays], np.int64)
    values = np.zeros((len(arrays), lengths.max(), widths.pop()), dtype)
    for i, a in enumerate(arrays):
        values[i, : len(a)] = a
    return Sequences(values, lengths, "list")


def stack_frames(seqs: Sequences, stride: int, size: int | None = None) -> Sequences:
    """Frames of ``size`` consecutive steps, one every ``stride`` steps, each stacked into one
    step of ``size * n_features``.

    A sequence of length ``t`` becomes ``ceil(t / stride)`` steps: step ``k`` holds input steps
    ``[k * stride, k * stride + size)`` in order, zeros past the sequence's end (whatever the
    padding held, so a sequence's frames never depend on the batch it is padded in).
    ``size=None`` means ``size = stride``: non-overlapping frames; a larger size makes
    consecutive frames overlap by ``size - stride`` steps. ``stride=1`` without a larger size
    returns ``seqs`` unchanged.
    """
    size = stride if size is None else size
    if size < stride:
        raise ValueError(f"frame size {size} must be at least the stride {stride}")
    if size == 1:
        return seqs
    n, time, n_features = seqs.values.shape
    steps = -(-time // stride)
    padded = np.zeros((n, (steps - 1) * stride + size, n_features), seqs.values.dtype)
    valid = np.arange(time)[None, :] < seqs.lengths[:, None]
    padded[:, :time] = np.where(valid[:, :, None], seqs.values, 0)
    lengths = -(-seqs.lengths // stride)
    if size == stride:
        return Sequences(padded.reshape(n, steps, stride * n_features), lengths, seqs.form)
    # (n, steps, n_features, size) windows of the time axis, every stride-th one
    windows = np.lib.stride_tricks.sliding_window_view(padded, size, axis=1)[:, ::stride]
    frames = np.ascontiguousarray(windows.transpose(0, 1, 3, 2))  # steps in order, then features
    return Sequences(frames.reshape(n, steps, size * n_features), lengths, seqs.form)


def standardize_per_sequence(seqs: Sequences) -> Sequences:
    """Each sequence scaled by its own statistics: per feature, minus its mean over the
    sequence's valid steps, divided by their standard deviation (1 where it is 0).

    What the UCR archive calls z-normalisation: the result does not depend on a series'
    offset or unit. Statistics are computed in float64, so a constant feature gives exactly
    0 (not rounding noise divided by a tiny deviation); steps past each length are 0.

    Parameters
    ----------
    seqs : Sequences
        ``values`` of shape ``(n, max_time, n_features)``.

    Returns
    -------
    Sequences
        Same shape, dtype and lengths.
    """
    scaled, _, _, _ = _z_normalised(seqs)
    return Sequences(scaled.astype(seqs.values.dtype), seqs.lengths, seqs.form)


# A sequence's deviation is read as at least this share of the training set's scale in the
# level channels (a constant feature would otherwise give log(0)).
LEVEL_SCALE_FLOOR = 1e-3


def standardize_with_level(seqs: Sequences, mean: np.ndarray, scale: np.ndarray) -> Sequences:
    """Each sequence z-normalised (:func:`standardize_per_sequence`), followed by what that
    removed: per feature, the sequence's own mean and standard deviation in the training set's
    units, so nothing of the input is lost.

    Z-normalisation makes a classifier blind to offsets and units that differ between
    sequences of one class (series recorded at different gains, appliances of different
    power), but also to the level and amplitude that may tell classes apart; the two level
    channels give those back on a common scale. For series that are z-normalised already
    they are constants, and the network reads the series as they are.

    Parameters
    ----------
    seqs : Sequences
        ``values`` of shape ``(n, max_time, n_features)``.
    mean, scale : ndarray of shape (n_features,)
        The training steps' mean and standard deviation per feature (scale > 0).

    Returns
    -------
    Sequences
        ``values`` of shape ``(n, max_time, 3 * n_features)``, same dtype and lengths: the
        z-normalised features, then ``(sequence mean - mean) / scale``, then
        ``log(max(sequence std / scale, LEVEL_SCALE_FLOOR))``, each level repeated over the
        sequence's valid steps; 0 past each length.
    """
    scaled, valid, seq_mean, seq_std = _z_normalised(seqs)
    mean = np.asarray(mean, np.float64)
    scale = np.asarray(scale, np.float64)
    level = np.concatenate(
        [(seq_mean - mean) / scale, np.log(np.maximum(seq_std / scale, LEVEL_SCALE_FLOOR))],
        axis=2,
    )
    levels = np.where(valid, level, 0.0)  # (n, max_time, 2 * n_features) by broadcasting
    values = np.concatenate([scaled, levels], axis=2)
    return Sequences(values.astype(seqs.values.dtype), seqs.lengths, seqs.form)


def _z_normalised(seqs: Sequences):
    """``(scaled, valid, mean, std)``: the z-normalised values (float64, 0 past each length),
    the ``(n, max_time, 1)`` mask of valid steps and each sequence's ``(n, 1, n_features)``
    mean and standard deviation over them."""
    values = seqs.values.astype(np.float64)
    valid = (np.arange(values.shape[1])[None, :] < seqs.lengths[:, None])[:, :, None]
    counts = np.maximum(seqs.lengths, 1).astype(np.float64)[:, None, None]
    mean = np.where(valid, values, 0.0).sum(axis=1, keepdims=True) / counts
    centred = np.where(valid, values - mean, 0.0)
    std = np.sqrt((centred * centred).sum(axis=1, keepdims=True) / counts)
    return centred / np.where(std > 0, std, 1.0), valid, mean, std


def check_token_sequences(X, *, name: str = "X", estimator: object = None) -> Sequences:
    """Validate token input and pad it with id 0: ``values`` ``(n, max_time, 1)`` int64.

    ``X`` is a list of 1-D arrays of non-negative integer ids (lengths may differ), or a 2-D
    integer array padded with 0 after each sequence's last token (its length ends at its last
    non-zero id). Strings get a TypeError that points at :class:`rnnfast.TextSequencer`.
    """
    owner = type(estimator).__name__ if estimator is not None else "the model"
    if scipy.sparse.issparse(X) or isinstance(X, (str, bytes)):
        raise TypeError(f"{name} must be token ids (a list of 1-D integer arrays or a 2-D array)")
    if isinstance(X, np.ndarray) and X.ndim == 2:
        array = _token_array(X, name)
        nonzero = array != 0
        lengths = np.where(nonzero.any(axis=1), array.shape[1] - nonzero[:, ::-1].argmax(axis=1), 0)
        empty = np.flatnonzero(lengths == 0)
        if len(empty):
            raise ValueError(f"{name}[{empty[0]}] holds only padding (id 0): no tokens")
        return Sequences(np.ascontiguousarray(array[:, :, None]), lengths.astype(np.int64), "2d")
    if not isinstance(X, (list, tuple)) and not (isinstance(X, np.ndarray) and X.ndim == 1):
        raise TypeError(
            f"{name} must be token ids for {owner} (embedding_dim is set): a list of 1-D integer "
            f"arrays or a 2-D integer array, got {type(X).__name__}"
        )
    if len(X) == 0:
        raise ValueError(f"{name} has 0 sequences; at least one is required for {owner}")
    rows = []
    for i, item in enumerate(X):
        if isinstance(item, str):
            raise TypeError(
                f"{name}[{i}] is a string; with embedding_dim set, {owner} reads token ids: "
                "put rnnfast.TextSequencer in front (make_pipeline(TextSequencer(), ...))"
            )
        row = _token_array(item, f"{name}[{i}]")
        if row.ndim != 1 or len(row) == 0:
            raise ValueError(f"{name}[{i}] must be a non-empty 1-D array of ids, got {row.shape}")
        rows.append(row)
    lengths = np.array([len(r) for r in rows], np.int64)
    values = np.zeros((len(rows), int(lengths.max()), 1), np.int64)
    for i, row in enumerate(rows):
        values[i, : len(row), 0] = row
    return Sequences(values, lengths, "list")


def _token_array(item, name: str) -> np.ndarray:
    array = np.asarray(item)
    if array.dtype.kind not in "iu":
        raise TypeError(
            f"{name} must hold integer token ids (embedding_dim is set), got dtype {array.dtype}"
        )
    if array.size and array.min() < 0:
        raise ValueError(f"{name} holds negative token ids (ids are >= 0; 0 is padding)")
    return array.astype(np.int64, copy=False)
