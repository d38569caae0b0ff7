"""Sequence regression: one or more real targets per sequence."""

from __future__ import annotations

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_array, check_is_fitted

from rnnfast._validation import check_bool, check_positive_int
from rnnfast.estimators._base import RNNEstimatorBase, check_statistics
from rnnfast.estimators._params import shared_init
from rnnfast.estimators._plan import InferencePlan
from rnnfast.nn.losses import squared_error
from rnnfast.persistence import persistable


class TargetStandardizer:
    """Targets are learned standardised (zero mean, unit variance per output) so that the
    default learning rate suits any target scale; predictions are mapped back."""

    def _fit_target_scale(self, y: np.ndarray, weights: np.ndarray) -> None:
        self._y_mean = np.average(y, axis=0, weights=weights)
        std = np.sqrt(np.average((y - self._y_mean) ** 2, axis=0, weights=weights))
        self._y_scale = np.where(std > 0, std, 1.0)

    def _standardize(self, y: np.ndarray) -> np.ndarray:
        return ((y - self._y_mean) / self._y_scale).astype(np.float32)

    def _unstandardize(self, outputs: np.ndarray) -> np.ndarray:
        return outputs * self._y_scale + self._y_mean


def check_targets_2d(y, n: int, name: str = "y") -> tuple[np.ndarray, bool]:
    """``y`` as a float ``(n, k)`` array, and whether it came 1-D."""
    if y is None:
        raise ValueError(f"requires {name} to be passed, but the target {name} is None")
    y = check_array(y, ensure_2d=False, dtype=np.float64, input_name=name)
    if y.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (n,) or 2-D (n, n_targets), got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"X has {n} sequences but {name} has {len(y)} rows")
    return (y[:, None] if y.ndim == 1 else y), y.ndim == 1


@persistable()
@shared_init(pooling="last", standardize=True, frame_stride="auto", frame_size=None)
class RNNRegressor(TargetStandardizer, RegressorMixin, RNNEstimatorBase):
    """Recurrent network regressor: a sequence in, one or more real values out.

        The top layer's final hidden state feeds a linear layer trained with mean squared error on
        standardised targets.

        Parameters
        ----------
        %(pooling)s
        %(standardize)s
        %(frame_stride)s
    %(shared_parameters)s
        Attributes
        ----------
        n_features_in_ : int
            Features per time step (1 for 2-D input, which means univariate sequences).
        n_outputs_ : int
            Targets per sequence.
        network_ : rnnfast.nn.SequenceNetwork
        loss_curve_, validation_scores_, best_epoch_, n_iter_
            As in :class:`RNNClassifier` (validation score: R^2).

        Examples
        --------
        >>> import numpy as np
        >>> from rnnfast import RNNRegressor
        >>> rng = np.random.default_rng(0)
        >>> X = rng.uniform(size=(300, 10))  # 300 univariate sequences of 10 steps
        >>> y = X[:, 2] + X[:, 7]  # the sum of two marked steps
        >>> reg = RNNRegressor(max_epochs=60, random_state=0).fit(X, y)
        >>> reg.score(X, y) > 0.9
        True
    """

    def fit(self, X, y, sample_weight=None):
        """Train on sequences ``X`` and targets ``y``.

        Parameters
        ----------
        %(X)s
        y : array-like of shape (n,) or (n, n_targets)
            Targets; standardised inside, predictions come back in their units.
        %(sample_weight)s

        Returns
        -------
        self : RNNRegressor
            The fitted estimator.
        """
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on ``(X, y)``, continuing from the current weights.

        The first call also fixes the target scaling.

        Parameters
        ----------
        %(X)s
        y : array-like of shape (n,) or (n, n_targets)
            Targets.
        %(sample_weight)s

        Returns
        -------
        self : RNNRegressor
            The updated estimator.
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X) -> np.ndarray:
        """Predict the targets of sequences ``X``.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        ndarray of shape (n,) or (n, n_targets)
            Shaped as ``y`` was in :meth:`fit`.
        """
        check_is_fitted(self, "network_")
        out = self._unstandardize(self._forward_all(self._check_X(X, fitting=False)))
        return out[:, 0] if self._y_1d else out

    def _inference_plan(self) -> InferencePlan:
        check_is_fitted(self, "network_")
        return InferencePlan(
            self.network_,
            "values",
            output_mean=self._y_mean,
            output_scale=self._y_scale,
            value_shape=self._value_shape(),
            **self._input_standardization(),
        )

    def _value_shape(self) -> tuple:
        return () if self._y_1d else (self.n_outputs_,)

    def _prepare_targets(self, seqs, y, weights, fitting):
        y, one_d = check_targets_2d(y, len(seqs))
        if fitting:
            self._y_1d, self.n_outputs_ = one_d, y.shape[1]
            self._fit_target_scale(y, weights)
        elif y.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {y.shape[1]} targets, the model was fitted with {self.n_outputs_}"
            )
        return self._standardize(y), weights

    _saved_attributes = RNNEstimatorBase._saved_attributes | {
        "n_outputs_",
        "_y_1d",
        "_y_mean",
        "_y_scale",
    }

    _stacks_frames = True

    def _check_loaded_targets(self):
        check_positive_int(self.n_outputs_, "n_outputs_")
        check_bool(self._y_1d, "_y_1d")
        check_statistics(self._y_mean, self._y_scale, self.n_outputs_, "_y")

    def _output_size(self) -> int:
        return self.n_outputs_

    def _loss(self, outputs, targets, weights, lengths):
        return squared_error(outputs, targets, weights)

    def _validation_score(self, data) -> float:
        return float(
            r2_score(data.targets, self._outputs(data.sequences), sample_weight=data.weights)
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
