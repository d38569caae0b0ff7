"""Anomaly detection by forecast or reconstruction error: a sequence (or a step) the model
cannot predict from its own past, or rebuild from a compressed code, is unusual."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import OutlierMixin
from sklearn.utils.validation import check_is_fitted

from rnnfast._validation import check_number
from rnnfast.data.sequences import Sequences
from rnnfast.estimators._base import RNNEstimatorBase, per_step_loss, per_step_mask
from rnnfast.estimators._params import shared_init
from rnnfast.nn.autoencoder import SequenceAutoencoder
from rnnfast.nn.losses import squared_error
from rnnfast.persistence import persistable

METHODS = ("forecast", "reconstruction")


@persistable()
@shared_init(contamination="auto", method="forecast")
class RNNAnomalyDetector(OutlierMixin, RNNEstimatorBase):
    """Unsupervised outlier detection for sequences, with scikit-learn's outlier API.

        A recurrent network learns to forecast each step of the (standardised) training sequences
        from the steps before it (the first step from nothing, i.e. the typical first value).
        A step's anomaly score is its squared forecast error averaged over features; a sequence's
        is the mean over its steps. Fit it on mostly normal data.

        Parameters
        ----------
        contamination : "auto" or float in (0, 0.5], default "auto"
            Expected share of outliers, which sets the threshold ``offset_``: the
            ``contamination`` quantile of the training scores, or with ``"auto"`` the training
            mean error plus three standard deviations.
        method : {"forecast", "reconstruction"}, default "forecast"
            How a step is scored: by the error of forecasting it from the steps before, or
            by the error of reconstructing the whole sequence through a sequence autoencoder
            (:class:`rnnfast.nn.SequenceAutoencoder`).
    %(shared_parameters)s
        Attributes
        ----------
        offset_ : float
            ``decision_function = score_samples - offset_``; negative means outlier.
        n_features_in_ : int
        network_ : rnnfast.nn.SequenceNetwork
        loss_curve_, validation_scores_, best_epoch_, n_iter_
            As in :class:`RNNClassifier` (validation score: minus the validation error).

        Examples
        --------
        >>> import numpy as np
        >>> from rnnfast import RNNAnomalyDetector
        >>> t = np.arange(40)
        >>> rng = np.random.default_rng(0)
        >>> normal = np.sin(t / 3 + rng.uniform(0, 6, size=(200, 1)))  # 200 phase-shifted sines
        >>> odd = rng.standard_normal((5, 40))  # 5 noise sequences
        >>> det = RNNAnomalyDetector(max_epochs=20, random_state=0).fit(normal)
        >>> det.predict(odd).tolist(), int((det.predict(normal) == 1).sum()) >= 190
        ([-1, -1, -1, -1, -1], True)
    """

    _accepts_tokens = False

    _per_step = True
    _standardize_inputs = True

    def fit(self, X, y=None, sample_weight=None):
        """Learn the normal sequences ``X`` and set the outlier threshold ``offset_``.

        Parameters
        ----------
        %(X)s
        %(y_ignored)s
        %(sample_weight)s

        Returns
        -------
        self : RNNAnomalyDetector
            The fitted detector.
        """
        self._fit(X, None, sample_weight)
        self._set_offset(self.score_samples(X))
        return self

    def partial_fit(self, X, y=None, sample_weight=None):
        """Train one epoch on ``X`` and recompute ``offset_`` from ``X``'s scores.

        Parameters
        ----------
        %(X)s
        %(y_ignored)s
        %(sample_weight)s

        Returns
        -------
        self : RNNAnomalyDetector
            The updated detector.
        """
        self._fit(X, None, sample_weight, incremental=True)
        self._set_offset(self.score_samples(X))
        return self

    def score_samples(self, X) -> np.ndarray:
        """Score each sequence: minus its mean squared error (higher is more normal).

        Parameters
        ----------
        %(X)s

        Returns
        -------
        ndarray of shape (n,)
            Minus the mean over valid steps of the squared forecast (or reconstruction) error.
        """
        check_is_fitted(self, "network_")
        seqs = self._check_X(X, fitting=False)
        errors = self._step_errors(seqs)
        return -errors.sum(axis=1) / seqs.lengths

    def decision_function(self, X) -> np.ndarray:
        """Return ``score_samples(X) - offset_``: negative for outliers.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        ndarray of shape (n,)
            The shifted scores.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:
        """Flag each sequence: +1 for inliers, -1 for outliers.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        ndarray of shape (n,)
            +1 or -1.
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def step_scores(self, X):
        """Score every time step: its squared error, higher is more unusual.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        ndarray of shape (n, time), or list of 1-D arrays
            A list for list input; zero on padding.
        """
        check_is_fitted(self, "network_")
        seqs = self._check_X(X, fitting=False)
        return seqs.unpad(self._step_errors(seqs))

    # task hooks
    def _check_task_params(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {self.method!r}")
        c = self.contamination
        if isinstance(c, str) and c == "auto":
            return
        if isinstance(c, bool) or not isinstance(c, numbers.Real) or not 0 < c <= 0.5:
            raise ValueError(f"contamination must be 'auto' or a float in (0, 0.5], got {c!r}")

    def _build_network(self, rng):
        if self.method == "forecast":
            return super()._build_network(rng)
        return SequenceAutoencoder(
            self.cell, self.n_features_in_, self.hidden_size, **self._architecture(rng)
        )

    def _network_input(self, seqs: Sequences) -> Sequences:
        return self._model_input(self._standardized(seqs))

    def _model_input(self, scaled: Sequences) -> Sequences:
        """What the model reads of standardised sequences: for forecasting they are shifted
        one step right (step t sees only steps < t)."""
        if self.method == "reconstruction":
            return scaled
        shifted = np.zeros_like(scaled.values)
        shifted[:, 1:] = scaled.values[:, :-1]
        return Sequences(shifted, scaled.lengths, scaled.form)

    def _prepare_targets(self, seqs, y, weights, fitting):
        targets = self._standardized(seqs).values  # the standardised steps themselves
        mask = per_step_mask(seqs.lengths, seqs.values.shape[1])
        return targets, (weights[:, None] * mask).astype(np.float32)

    _saved_attributes = RNNEstimatorBase._saved_attributes | {"offset_"}

    def _check_loaded_targets(self):
        check_number(self.offset_, "offset_")  # finite

    def _output_size(self) -> int:
        return self.n_features_in_

    def _loss(self, outputs, targets, weights, lengths):
        return per_step_loss(squared_error, outputs, targets, weights, lengths)

    def _step_errors(self, seqs: Sequences) -> np.ndarray:
        """``(n, time)`` squared errors, averaged over features, zero on padding."""
        scaled = self._standardized(seqs)
        errors = ((self._outputs(self._model_input(scaled)) - scaled.values) ** 2).mean(axis=2)
        return errors * per_step_mask(seqs.lengths, seqs.values.shape[1])

    def _set_offset(self, train_scores: np.ndarray) -> None:
        if self.contamination == "auto":
            errors = -train_scores
            self.offset_ = float(-(errors.mean() + 3 * errors.std()))
        else:
            self.offset_ = float(np.percentile(train_scores, 100 * self.contamination))
