"""Panel data: one forecaster per series, fitted in parallel (locally or on a cluster).

The work is spread with joblib, so the same call runs on local processes (``n_jobs``) or on a
Dask cluster inside ``joblib.parallel_config(backend="dask")``; see :mod:`rnnfast.dask`.
"""

from __future__ import annotations

from collections.abc import Mapping

from joblib import Parallel, delayed
from sklearn.base import clone

__all__ = ["fit_per_series", "forecast_per_series"]


def fit_per_series(forecaster, panel: Mapping, *, exog: Mapping | None = None, n_jobs=None):
    """Fit a clone of ``forecaster`` on each series of ``panel``.

    Parameters
    ----------
    forecaster : rnnfast.RNNForecaster
        The unfitted template; each series gets its own clone (same hyperparameters and seed).
    panel : mapping of key to array-like of shape (time,) or (time, k)
        The series, e.g. ``{"store-1": sales_1, ...}``.
    exog : mapping of key to array-like of shape (time, e), optional
        Covariates per series, with the keys of ``panel``.
    n_jobs : int or None
        The ``n_jobs`` of joblib; under ``joblib.parallel_config(backend="dask")`` the fits run as
        Dask tasks.

    Returns
    -------
    dict
        Key -> fitted forecaster, in the order of ``panel``.
    """
    if not isinstance(panel, Mapping) or not panel:
        raise TypeError("panel must be a non-empty mapping of key -> series")
    if exog is not None and (not isinstance(exog, Mapping) or set(exog) != set(panel)):
        raise ValueError("exog must be a mapping with exactly the keys of panel")
    if not hasattr(forecaster, "fit_series"):
        raise TypeError(
            f"forecaster must have fit_series (an RNNForecaster), got {type(forecaster).__name__}"
        )
    keys = list(panel)
    fitted = Parallel(n_jobs=n_jobs)(
        delayed(_fit_one)(clone(forecaster), panel[key], None if exog is None else exog[key])
        for key in keys
    )
    return dict(zip(keys, fitted, strict=True))


def forecast_per_series(models: Mapping, panel: Mapping, steps: int | None = None, *, exog=None):
    """Forecast every series of ``panel`` with its own model.

    Parameters
    ----------
    models : mapping of key to fitted rnnfast.RNNForecaster
        As :func:`fit_per_series` returns them.
    panel : mapping of key to array-like of shape (time,) or (time, k)
        Recent history of each series.
    steps : int, optional
        Steps to forecast; defaults to each model's ``horizon``.
    exog : mapping of key to array-like of shape (time, e), optional
        Covariates per series, if the models were fitted with them.

    Returns
    -------
    dict
        Key -> ``models[key].forecast(panel[key], exog[key], steps)``.
    """
    missing = [key for key in panel if key not in models]
    if missing:
        raise ValueError(f"no fitted model for series {missing[:5]}")
    return {
        key: models[key].forecast(series, None if exog is None else exog[key], steps)
        for key, series in panel.items()
    }


def _fit_one(forecaster, series, exog):
    return forecaster.fit_series(series, exog)
