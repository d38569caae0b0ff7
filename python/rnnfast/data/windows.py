"""Sliding windows over a series: inputs of ``window`` steps and the ``horizon`` steps after."""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def sliding_windows(
    series: np.ndarray, window: int, horizon: int, exog: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Supervised pairs from a series.

    Parameters
    ----------
    series : ndarray of shape (time, k)
        The series, oldest first.
    window, horizon : int
        Steps of each input, and of the values after it that form its target.
    exog : ndarray of shape (time, e), optional
        Covariates observed with the series; appended to each input step's features.

    Returns
    -------
    inputs : ndarray of shape (n, window, k + e)
        ``n = time - window - horizon + 1`` windows ``series[s : s + window]``.
    targets : ndarray of shape (n, horizon, k)
        ``series[s + window : s + window + horizon]``.
    """
    time = series.shape[0]
    n = time - window - horizon + 1
    if n < 1:
        raise ValueError(
            f"the series has {time} steps; window={window} plus horizon={horizon} needs at "
            f"least {window + horizon}"
        )
    features = series if exog is None else np.concatenate([series, exog], axis=1)
    # sliding_window_view puts the window axis last: (n, features, window) -> (n, window, f)
    inputs = sliding_window_view(features[: time - horizon], window, axis=0)[:n]
    targets = sliding_window_view(series[window:], horizon, axis=0)[:n]
    return (
        np.ascontiguousarray(inputs.transpose(0, 2, 1)),
        np.ascontiguousarray(targets.transpose(0, 2, 1)),
    )
