"""sktime adapters: rnnfast's estimators as sktime classifiers, regressors and forecasters, so
they run in sktime's pipelines, benchmarking and ``evaluate``.

Requires sktime (``pip install "rnnfast[datasets]"``). Each adapter holds an rnnfast estimator
as its ``estimator`` parameter (defaults when None), converts sktime's formats (any panel
mtype, unequal lengths included, reaches it as a list of ``(time, channels)`` arrays) and
declares what rnnfast does: multivariate and unequal-length panels, class probabilities.

Examples
--------
>>> from rnnfast import RNNClassifier
>>> from rnnfast.sktime import as_sktime_classifier
>>> clf = as_sktime_classifier(RNNClassifier(max_epochs=5, random_state=0))
>>> clf.get_tag("capability:unequal_length")
True
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
from sklearn.base import clone

try:
    from sktime.classification.base import BaseClassifier
    from sktime.forecasting.base import BaseForecaster
    from sktime.regression.base import BaseRegressor
except ImportError as exc:  # pragma: no cover - sktime is in the test and datasets extras
    raise ImportError('rnnfast.sktime needs sktime: pip install "rnnfast[datasets]"') from exc

from rnnfast.estimators import RNNClassifier, RNNForecaster, RNNRegressor

__all__ = [
    "SktimeRNNClassifier",
    "SktimeRNNForecaster",
    "SktimeRNNRegressor",
    "as_sktime_classifier",
    "as_sktime_forecaster",
    "as_sktime_regressor",
]

_PANEL_TAGS = {
    "X_inner_mtype": "df-list",  # one (time, channels) frame per instance: any length
    "y_inner_mtype": "numpy1D",
    "capability:multivariate": True,
    "capability:unequal_length": True,
    "capability:missing_values": False,
    "python_dependencies": "sktime",
}


def _sequences(X) -> list[np.ndarray]:
    """sktime's ``df-list`` panel as rnnfast's list of ``(time, channels)`` arrays."""
    return [frame.to_numpy(dtype=np.float64) for frame in X]


class _Adapter:
    """What every adapter shares: the ``estimator`` parameter, its fitted clone, and small
    configurations for sktime's checks (``_test_estimators``)."""

    _default: ClassVar[type]  # the rnnfast estimator class used when ``estimator`` is None

    def __init__(self, estimator=None):
        self.estimator = estimator
        super().__init__()

    def _fresh_estimator(self):
        return clone(self.estimator if self.estimator is not None else self._default())

    @classmethod
    def _test_estimators(cls) -> list:
        raise NotImplementedError

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Return small configurations for sktime's estimator checks.

        Parameters
        ----------
        parameter_set : str, default "default"
            Ignored: one set for every purpose.

        Returns
        -------
        list of dict
            Constructor arguments.
        """
        return [{"estimator": estimator} for estimator in cls._test_estimators()]


class SktimeRNNClassifier(_Adapter, BaseClassifier):
    """An :class:`rnnfast.RNNClassifier` (or configured copy) as an sktime classifier.

    Parameters
    ----------
    estimator : rnnfast.RNNClassifier or None, default None
        The estimator to train (cloned at fit); None: ``RNNClassifier()``.

    Attributes
    ----------
    estimator_ : rnnfast.RNNClassifier
        The fitted clone.

    Examples
    --------
    >>> from sktime.datasets import load_basic_motions
    >>> from rnnfast import RNNClassifier
    >>> from rnnfast.sktime import SktimeRNNClassifier
    >>> X, y = load_basic_motions(split="train")  # nested DataFrame, 6 channels
    >>> clf = SktimeRNNClassifier(RNNClassifier(max_epochs=5, random_state=0)).fit(X, y)
    >>> clf.predict(X[:2]).shape
    (2,)
    """

    _tags: ClassVar[dict] = {
        **_PANEL_TAGS,
        "capability:predict_proba": True,
        "authors": "rnnfast developers",
    }

    _default = RNNClassifier

    def _fit(self, X, y):
        self.estimator_ = self._fresh_estimator()
        self.estimator_.fit(_sequences(X), y)
        return self

    def _predict(self, X) -> np.ndarray:
        return self.estimator_.predict(_sequences(X))

    def _predict_proba(self, X) -> np.ndarray:
        return self.estimator_.predict_proba(_sequences(X))

    @classmethod
    def _test_estimators(cls) -> list:
        return [
            RNNClassifier(hidden_size=4, max_epochs=2, random_state=0),
            RNNClassifier(cell="gru", hidden_size=4, max_epochs=2, random_state=1),
        ]


class SktimeRNNRegressor(_Adapter, BaseRegressor):
    """An :class:`rnnfast.RNNRegressor` (or configured copy) as an sktime panel regressor.

    Parameters
    ----------
    estimator : rnnfast.RNNRegressor or None, default None
        The estimator to train (cloned at fit); None: ``RNNRegressor()``.

    Attributes
    ----------
    estimator_ : rnnfast.RNNRegressor
        The fitted clone.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnfast import RNNRegressor
    >>> from rnnfast.sktime import SktimeRNNRegressor
    >>> X = np.random.default_rng(0).normal(size=(30, 2, 12))  # sktime's (n, channels, time)
    >>> reg = SktimeRNNRegressor(RNNRegressor(max_epochs=3, random_state=0))
    >>> reg.fit(X, X[:, 0].mean(axis=1)).predict(X[:3]).shape
    (3,)
    """

    _tags: ClassVar[dict] = {**_PANEL_TAGS, "authors": "rnnfast developers"}

    _default = RNNRegressor

    def _fit(self, X, y):
        self.estimator_ = self._fresh_estimator()
        self.estimator_.fit(_sequences(X), y)
        return self

    def _predict(self, X) -> np.ndarray:
        return self.estimator_.predict(_sequences(X))

    @classmethod
    def _test_estimators(cls) -> list:
        return [
            RNNRegressor(hidden_size=4, max_epochs=2, random_state=0),
            RNNRegressor(cell="gru", hidden_size=4, max_epochs=2, random_state=1),
        ]


class SktimeRNNForecaster(_Adapter, BaseForecaster):
    """An :class:`rnnfast.RNNForecaster` (or configured copy) as an sktime forecaster.

    It is fitted on the series with :meth:`rnnfast.RNNForecaster.fit_series` and forecasts
    ``max(fh)`` steps after its end with :meth:`~rnnfast.RNNForecaster.forecast` (recursively
    past the estimator's ``horizon``); the steps ``fh`` asks for are returned. The estimator's
    ``window`` is shortened to fit a short series (at most half of it). ``update`` appends the
    new values to the history forecasts start from; the network is not retrained.

    Parameters
    ----------
    estimator : rnnfast.RNNForecaster or None, default None
        The estimator to train (cloned at fit); None: ``RNNForecaster()``.

    Attributes
    ----------
    estimator_ : rnnfast.RNNForecaster
        The fitted clone.

    Examples
    --------
    >>> from sktime.datasets import load_airline
    >>> from rnnfast import RNNForecaster
    >>> from rnnfast.sktime import SktimeRNNForecaster
    >>> y = load_airline()
    >>> f = SktimeRNNForecaster(RNNForecaster(window=24, max_epochs=5, random_state=0))
    >>> f.fit(y).predict(fh=[1, 2, 3]).shape
    (3,)
    """

    _tags: ClassVar[dict] = {
        "y_inner_mtype": "pd.Series",
        "X_inner_mtype": "pd.DataFrame",
        "capability:exogenous": False,
        "capability:insample": False,
        "capability:missing_values": False,
        "requires-fh-in-fit": False,
        "python_dependencies": "sktime",
        "authors": "rnnfast developers",
    }
    # the adapter keeps the series it forecasts from itself (``_update`` appends to it), so
    # sktime's own copy is not needed (and this is sktime's coming default)
    _config: ClassVar[dict] = {"remember_data": False}

    _default = RNNForecaster

    def __init__(self, estimator=None):
        super().__init__(estimator)
        self._y = self._X = None  # what sktime's base holds when it remembers no data

    def _fit(self, y, X=None, fh=None):
        estimator = self._fresh_estimator()
        window = max(1, min(estimator.window, (len(y) - estimator.horizon) // 2))
        self.estimator_ = estimator.set_params(window=window)
        self.estimator_.fit_series(y.to_numpy(dtype=np.float64))
        self._history = y
        return self

    def _update(self, y, X=None, update_params=True):
        self._history = pd.concat([self._history, y])
        self._history = self._history[~self._history.index.duplicated(keep="last")]
        return self

    def _predict(self, fh, X=None):
        steps = fh.to_relative(self.cutoff)
        values = self.estimator_.forecast(
            self._history.to_numpy(dtype=np.float64), steps=int(max(steps))
        )
        index = fh.to_absolute_index(self.cutoff)
        return pd.Series(values[np.asarray(steps) - 1], index=index, name=self._history.name)

    @classmethod
    def _test_estimators(cls) -> list:
        return [
            RNNForecaster(window=6, hidden_size=4, max_epochs=2, random_state=0),
            RNNForecaster(window=4, horizon=2, cell="gru", max_epochs=2),
        ]


def _wrapper(adapter: type, kind: str):
    """The ``as_sktime_<kind>`` function returning ``adapter(estimator)``."""

    def wrap(estimator=None):
        return adapter(estimator)

    wrap.__name__ = wrap.__qualname__ = f"as_sktime_{kind}"
    wrap.__doc__ = f"""Wrap an :class:`rnnfast.{adapter._default.__name__}` as an sktime {kind}.

    Parameters
    ----------
    estimator : rnnfast.{adapter._default.__name__} or None, default None
        The estimator; None: its defaults.

    Returns
    -------
    {adapter.__name__}
        The adapter.
    """
    return wrap


as_sktime_classifier = _wrapper(SktimeRNNClassifier, "classifier")
as_sktime_regressor = _wrapper(SktimeRNNRegressor, "regressor")
as_sktime_forecaster = _wrapper(SktimeRNNForecaster, "forecaster")
