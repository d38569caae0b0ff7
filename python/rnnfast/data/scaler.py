"""Per-feature standardisation of sequences, pooled over every valid time step."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from rnnfast._saving import SaveMixin
from rnnfast.data.sequences import Sequences, check_sequences
from rnnfast.persistence import persistable


@persistable()
class SequenceScaler(
    SaveMixin,
    OneToOneFeatureMixin,
    TransformerMixin,
    BaseEstimator,
    # sequences (3-D or ragged) fit no DataFrame: opt out of set_output, as scikit-learn
    # documents, so pipelines under transform_output="pandas" still run
    auto_wrap_output_keys=None,
):
    """Standardise each feature to zero mean and unit variance over all time steps.

    The statistics pool every valid step of every training sequence (padding excluded), so a
    feature is scaled the same way at every step, as an RNN needs. Works inside a ``Pipeline``
    in front of any rnnfast estimator.

    Parameters
    ----------
    with_mean : bool, default True
        Subtract the mean.
    with_std : bool, default True
        Divide by the standard deviation (1 for constant features).

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
    scale_ : ndarray of shape (n_features,)
    n_features_in_ : int
        Features per time step (1 for 2-D input, which means univariate sequences).

    Examples
    --------
    >>> import numpy as np
    >>> from rnnfast import SequenceScaler
    >>> X = [np.array([[1.0], [3.0]]), np.array([[5.0]])]
    >>> [x.ravel().tolist() for x in SequenceScaler().fit_transform(X)]
    [[-1.224744871391589, 0.0], [1.224744871391589]]
    """

    _saved_attributes = frozenset({"mean_", "scale_", "n_features_in_"})

    def __init__(self, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = with_mean
        self.with_std = with_std

    def fit(self, X, y=None):
        """Compute the per-feature mean and standard deviation of ``X``'s valid steps.

        Parameters
        ----------
        X : array of shape (n, time, n_features) or (n, time), or list of (time_i, n_features)
            Sequences; a list may hold sequences of different lengths.
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        self : SequenceScaler
            The fitted scaler.
        """
        seqs = check_sequences(X, estimator=self, dtype=np.float64)
        steps = _valid_steps(seqs)
        self.mean_ = steps.mean(axis=0) if self.with_mean else np.zeros(seqs.n_features)
        std = steps.std(axis=0)
        # constant features keep their values (as sklearn's StandardScaler does)
        self.scale_ = np.where(std > 0, std, 1.0) if self.with_std else np.ones(seqs.n_features)
        self.n_features_in_ = seqs.n_features
        return self

    def _check_loaded_state(self) -> None:
        """Called by :func:`rnnfast.load`: the statistics are finite, of one width."""
        if "mean_" not in vars(self):
            return
        n = self.n_features_in_
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n_features_in_ must be a positive integer, got {n!r}")
        for name in ("mean_", "scale_"):
            value = getattr(self, name)
            if not isinstance(value, np.ndarray) or value.shape != (n,) or value.dtype.kind != "f":
                raise ValueError(f"{name} must be a float array of shape ({n},)")
            if not np.isfinite(value).all():
                raise ValueError(f"{name} holds NaN or infinite values")
        if not (self.scale_ > 0).all():
            raise ValueError("scale_ must be positive")

    def transform(self, X):
        """Standardise each feature of ``X``.

        Parameters
        ----------
        X : array of shape (n, time, n_features) or (n, time), or list of (time_i, n_features)
            Sequences; a list may hold sequences of different lengths.

        Returns
        -------
        ndarray or list of ndarray
            The standardised sequences, in the form of ``X`` (3-D, 2-D, or a list of arrays).
        """
        return self._apply(X, lambda v: (v - self.mean_) / self.scale_)

    def inverse_transform(self, X):
        """Undo :meth:`transform`.

        Parameters
        ----------
        X : array of shape (n, time, n_features) or (n, time), or list of (time_i, n_features)
            Sequences; a list may hold sequences of different lengths.

        Returns
        -------
        ndarray or list of ndarray
            The sequences in their original units, in the form of ``X``.
        """
        return self._apply(X, lambda v: v * self.scale_ + self.mean_)

    def _apply(self, X, func):
        check_is_fitted(self)
        seqs = check_sequences(X, estimator=self, n_features=self.n_features_in_, dtype=np.float64)
        out = func(seqs.values)
        if seqs.form == "2d":
            return out[:, :, 0]
        return seqs.unpad(out)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags


def _valid_steps(seqs: Sequences) -> np.ndarray:
    """All valid steps as rows ``(total_steps, n_features)``."""
    mask = np.arange(seqs.values.shape[1])[None, :] < seqs.lengths[:, None]
    return seqs.values[mask]
