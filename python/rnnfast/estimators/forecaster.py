"""Time-series forecasting: the next ``horizon`` steps of a series from its last ``window``."""

from __future__ import annotations

import math
import numbers

import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted

from rnnfast._validation import check_bool, check_number, check_positive_int
from rnnfast.data.windows import sliding_windows
from rnnfast.estimators._params import shared_init
from rnnfast.estimators.regressor import RNNRegressor
from rnnfast.persistence import persistable


@persistable()
@shared_init(window=24, horizon=1, pooling="last")
class RNNForecaster(RNNRegressor):
    """Recurrent forecaster of univariate or multivariate series (direct multi-step).

        Two ways in:

        - :meth:`fit_series` takes a whole series (and optional exogenous covariates), cuts it
          into windows of ``window`` steps with the ``horizon`` steps after each as targets, and
          trains; :meth:`forecast` then predicts the steps after the end of a series.
        - :meth:`fit` / :meth:`predict` take windows you cut yourself: ``X`` sequences (any form)
          and ``y`` targets of shape ``(n,)``, ``(n, horizon)`` or ``(n, horizon, k)``; this is
          the scikit-learn contract, for pipelines and grid searches.

        Inputs are standardised per feature with statistics from ``fit`` and targets per output,
        so series of any scale train with the default learning rate.

        Parameters
        ----------
        window : int, default 24
            Input steps per training window (:meth:`fit_series`); :meth:`forecast` reads the last
            ``window`` steps of the series it is given.
        horizon : int, default 1
            Steps predicted at once by :meth:`fit_series` models.
        %(pooling)s
    %(shared_parameters)s
        Attributes
        ----------
        n_features_in_ : int
            Features per input step (series variables plus exogenous covariates).
        network_ : rnnfast.nn.SequenceNetwork
        loss_curve_, validation_scores_, best_epoch_, n_iter_
            As in :class:`RNNClassifier` (validation score: R^2 on standardised targets).

        Examples
        --------
        >>> import numpy as np
        >>> from rnnfast import RNNForecaster
        >>> t = np.arange(400)
        >>> noise = 0.05 * np.random.default_rng(0).standard_normal(400)
        >>> series = np.sin(2 * np.pi * t / 25) + noise
        >>> model = RNNForecaster(window=30, horizon=5, max_epochs=30, random_state=0)
        >>> model = model.fit_series(series[:350])
        >>> future = model.forecast(series[:350])  # the next 5 values
        >>> future.shape
        (5,)
        >>> float(np.abs(future - np.sin(2 * np.pi * t[350:355] / 25)).max()) < 0.2
        True
    """

    _accepts_tokens = False  # its inputs are the series it forecasts

    _standardize_inputs = True
    # windows are read step by step (forecast() streams them): no frames
    _stacks_frames = False

    def fit(self, X, y, sample_weight=None):
        """Train on windows ``X`` and the values ``y`` that follow each.

        Parameters
        ----------
        %(X)s
        y : array-like of shape (n,), (n, horizon) or (n, horizon, k)
            The values after each window.
        %(sample_weight)s

        Returns
        -------
        self : RNNForecaster
            The fitted estimator.
        """
        y, self._y_tail = _flatten_targets(y)
        self._series_k = None
        return self._fit(X, y, sample_weight)

    def partial_fit(self, X, y, sample_weight=None):
        """Train one epoch on windows ``X`` and targets ``y``, continuing from the current weights.

        Parameters
        ----------
        %(X)s
        y : array-like of shape (n,), (n, horizon) or (n, horizon, k)
            The values after each window.
        %(sample_weight)s

        Returns
        -------
        self : RNNForecaster
            The updated estimator.
        """
        y, tail = _flatten_targets(y)
        if not hasattr(self, "network_"):
            self._y_tail, self._series_k = tail, None
        return super().partial_fit(X, y, sample_weight)

    def fit_series(self, series, exog=None):
        """Window ``series`` (``(time,)`` or ``(time, k)``) and train.

        Parameters
        ----------
        series : array-like of shape (time,) or (time, k)
            The training series, oldest first; needs ``window + horizon`` steps at least.
        exog : array-like of shape (time, e), optional
            Covariates observed at the same steps (e.g. calendar features); each window's
            input steps carry them. :meth:`forecast` then needs them for the window it reads.

        Returns
        -------
        self : RNNForecaster
            The fitted estimator.
        """
        self._check_task_params()
        values, one_d = _check_series(series, "series")
        exog_values = None if exog is None else _check_exog(exog, len(values))
        inputs, targets = sliding_windows(values, self.window, self.horizon, exog_values)
        self.fit(inputs, targets)
        self._series_k, self._series_1d = values.shape[1], one_d
        self._n_exog = 0 if exog_values is None else exog_values.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Forecast the values after each window of ``X``.

        Parameters
        ----------
        %(X)s

        Returns
        -------
        ndarray
            Shaped like the ``y`` given to :meth:`fit`.
        """
        out = super().predict(X)
        return out.reshape((len(out), *self._y_tail))

    _saved_attributes = RNNRegressor._saved_attributes | {
        "_y_tail",
        "_series_k",
        "_series_1d",
        "_n_exog",
    }

    def _check_loaded_targets(self):
        super()._check_loaded_targets()
        tail = self._y_tail
        if (
            not isinstance(tail, tuple)
            or not all(isinstance(n, int) and n > 0 for n in tail)
            or math.prod(tail) != self.n_outputs_
        ):
            raise ValueError(f"_y_tail {tail!r} does not hold n_outputs_={self.n_outputs_}")
        if self._series_k is not None:
            check_positive_int(self._series_k, "_series_k")
            check_bool(self._series_1d, "_series_1d")
            check_number(self._n_exog, "_n_exog", 0, integer=True)
            if self.n_features_in_ != self._series_k + self._n_exog:
                raise ValueError("the series' width and covariates do not match n_features_in_")

    def _value_shape(self) -> tuple:
        return tuple(self._y_tail)

    def forecast(self, series, exog=None, steps: int | None = None) -> np.ndarray:
        """Predict the ``steps`` values after the end of ``series`` (a :meth:`fit_series` model).

        Parameters
        ----------
        series : array-like of shape (time,) or (time, k)
            Recent history with at least ``window`` steps; only the last ``window`` are read.
        exog : array-like of shape (time, e), optional
            The covariates at those steps; required if the model was fitted with them.
        steps : int, optional
            Defaults to ``horizon``. More steps than ``horizon`` are predicted recursively
            (each forecast block is appended to the history), which needs no covariates.

        Returns
        -------
        ndarray of shape (steps,) or (steps, k)
            The forecast, shaped like ``series``.
        """
        check_is_fitted(self, "network_")
        if getattr(self, "_series_k", None) is None:
            raise ValueError("forecast() needs a model trained with fit_series(); use predict()")
        values, _ = _check_series(series, "series")
        steps = self.horizon if steps is None else steps
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            raise ValueError(f"steps must be a positive integer, got {steps!r}")
        if values.shape[1] != self._series_k:
            raise ValueError(
                f"series has {values.shape[1]} variables, the model was fitted on {self._series_k}"
            )
        if len(values) < self.window:
            raise ValueError(f"series needs at least window={self.window} steps, got {len(values)}")
        if (exog is None) != (self._n_exog == 0):
            raise ValueError("exog must be given exactly when the model was fitted with exog")
        if exog is not None and steps > self.horizon:
            raise ValueError(
                f"steps={steps} > horizon={self.horizon} needs future covariates; with exog, "
                "forecast at most horizon steps"
            )
        exog_values = None if exog is None else _check_exog(exog, len(values))
        history, produced = values, []
        while sum(len(p) for p in produced) < steps:
            window = history[-self.window :]
            if exog_values is not None:
                window = np.concatenate([window, exog_values[-self.window :]], axis=1)
            block = self.predict(window[None])[0].reshape(self.horizon, self._series_k)
            produced.append(block)
            history = np.concatenate([history, block])
        out = np.concatenate(produced)[:steps]
        return out[:, 0] if self._series_1d else out

    # task hooks
    def _check_task_params(self):
        for name in ("window", "horizon"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _flatten_targets(y):
    """``y`` as (n,) or (n, m) for the regressor machinery, and the trailing shape to restore."""
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    array = np.asarray(y)
    if array.ndim == 3:
        return array.reshape(len(array), -1), tuple(array.shape[1:])
    return array, tuple(array.shape[1:])


def _check_series(series, name: str) -> tuple[np.ndarray, bool]:
    values = check_array(series, ensure_2d=False, allow_nd=True, dtype=np.float32, input_name=name)
    if values.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D (time,) or 2-D (time, k), got shape {values.shape}")
    return (values[:, None] if values.ndim == 1 else values), values.ndim == 1


def _check_exog(exog, time: int) -> np.ndarray:
    values, _ = _check_series(exog, "exog")
    if len(values) != time:
        raise ValueError(f"exog has {len(values)} steps, the series has {time}")
    return values
