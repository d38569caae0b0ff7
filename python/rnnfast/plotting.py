"""Plots for fitted estimators (matplotlib, an optional extra: ``pip install "rnnfast[plot]"``).

Each function draws on ``ax`` (a new figure's axes when None) and returns the axes, so plots
compose and scripts decide whether to show or save them.
"""

from __future__ import annotations

import numpy as np

from rnnfast.estimators._base import RNNEstimatorBase

__all__ = ["plot_anomalies", "plot_forecast", "plot_history"]


def _axes(ax):
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError('plotting needs matplotlib: pip install "rnnfast[plot]"') from exc
    return plt.figure(figsize=(8, 4)).add_subplot()


def plot_history(estimator, ax=None):
    """Plot the training loss per epoch (``loss_curve_``), and the validation score if any.

    The validation score goes on a twin axis when early stopping recorded one, and the best
    epoch is marked.

    Parameters
    ----------
    estimator : fitted rnnfast estimator, or a pipeline or search ending in one
        The estimator whose history to draw: a ``Pipeline``'s final step, a search's
        ``best_estimator_``.
    ax : matplotlib Axes, optional
        Where to draw; None makes a new figure.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    estimator = _trained_estimator(estimator)
    losses = getattr(estimator, "loss_curve_", None)
    if losses is None:
        raise ValueError("estimator is not fitted: it has no loss_curve_ to plot")
    ax = _axes(ax)
    epochs = np.arange(1, len(losses) + 1)
    ax.plot(epochs, losses, marker=".", label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax.axvline(estimator.best_epoch_, color="grey", linestyle=":", label="best epoch")
    handles, labels = ax.get_legend_handles_labels()
    scores = getattr(estimator, "validation_scores_", None)
    if scores:
        twin = ax.twinx()
        twin.plot(epochs, scores, color="tab:orange", marker=".", label="validation score")
        twin.set_ylabel("validation score")
        more_handles, more_labels = twin.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.set_title(f"{type(estimator).__name__}: {len(losses)} epochs")
    ax.legend(handles, labels, loc="upper right")  # one legend for both axes' curves
    return ax


def _trained_estimator(obj):
    """The rnnfast estimator inside ``obj``: itself, a pipeline's last step, or a search's
    best estimator."""
    if hasattr(obj, "best_estimator_"):
        obj = obj.best_estimator_
    if hasattr(obj, "steps"):
        obj = obj.steps[-1][1]
    if not isinstance(obj, RNNEstimatorBase):
        raise TypeError(
            "estimator must be a fitted rnnfast estimator (or a pipeline or search ending in "
            f"one), got {type(obj).__name__}"
        )
    return obj


def plot_forecast(history, truth, forecasts: dict, *, time=None, ax=None):
    """Plot the end of a series, what followed, and one or more forecasts of it.

    Parameters
    ----------
    history : array-like of shape (n,)
        The series the forecasts were made from.
    truth : array-like of shape (h,)
        What actually followed.
    forecasts : dict of str to array-like of shape (h,)
        Label -> forecast.
    time : array-like of shape (n + h,), optional
        The x values (default 0 .. n + h - 1).
    ax : matplotlib Axes, optional
        Where to draw; None makes a new figure.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    history, truth = np.asarray(history, float), np.asarray(truth, float)
    n, h = len(history), len(truth)
    x = np.arange(n + h) if time is None else np.asarray(time)
    if len(x) != n + h:
        raise ValueError(f"time must have len(history) + len(truth) = {n + h} values")
    ax = _axes(ax)
    ax.plot(x[:n], history, color="black", label="history")
    ax.plot(x[n:], truth, color="black", linestyle="--", label="truth")
    for label, forecast in forecasts.items():
        forecast = np.asarray(forecast, float)
        if forecast.shape != truth.shape:
            raise ValueError(f"forecast {label!r} has shape {forecast.shape}, truth {truth.shape}")
        ax.plot(x[n:], forecast, label=label)
    ax.legend()
    return ax


def plot_anomalies(series, flagged, *, time=None, ax=None):
    """Plot a series with the flagged steps marked in red.

    Parameters
    ----------
    series : array-like of shape (n,)
        The series.
    flagged : array-like of bool, shape (n,)
        Which steps to mark.
    time : array-like of shape (n,), optional
        The x values; None counts the steps.
    ax : matplotlib Axes, optional
        Where to draw; None makes a new figure.

    Returns
    -------
    matplotlib Axes
        The axes drawn on.
    """
    series, flagged = np.asarray(series, float), np.asarray(flagged, bool)
    if series.shape != flagged.shape:
        raise ValueError(f"flagged has shape {flagged.shape}, series {series.shape}")
    x = np.arange(len(series)) if time is None else np.asarray(time)
    ax = _axes(ax)
    ax.plot(x, series, color="black", linewidth=0.8, label="series")
    ax.scatter(x[flagged], series[flagged], color="red", s=12, zorder=3, label="anomalous")
    ax.legend()
    return ax
