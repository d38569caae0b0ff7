"""Callbacks: objects the estimators' training loop calls at fit begin, after every epoch and at
fit end, with the estimator and a read-only :class:`History`; any may stop the training.

Pass them as ``callbacks=[...]`` to any estimator. Built in: :class:`EarlyStopping` on any
metric, :class:`CSVLogger`, and :class:`Checkpoint` (the ``checkpoint_path`` mechanism, so a
checkpoint it writes resumes bit-identically with ``rnnfast.load(path).resume(X, y)``).
Callbacks are not saved in model files (like ``checkpoint_path``, a loaded model writes nowhere
its file names): set them again after loading.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass

from rnnfast._docstrings import fill_docstrings

__all__ = ["CSVLogger", "Callback", "Checkpoint", "EarlyStopping", "History"]

# the parameters of every hook (``%(hook_parameters)s`` in a hook's docstring)
_HOOK_PARAMETERS = """\
estimator : rnnfast estimator
    The estimator being trained; its ``loss_curve_`` and other fitted attributes are up to
    date.
history : History
    The record so far (read-only)."""


def _documented(cls: type) -> type:
    return fill_docstrings(cls, {"hook_parameters": _HOOK_PARAMETERS})


@dataclass(frozen=True)
class History:
    """What the training has recorded so far (read-only; a new record every epoch).

    Parameters
    ----------
    epoch : int
        Epochs trained so far, earlier fits of a warm start included (1 after the first).
    epochs_done, epochs_planned : int
        Epochs of the current ``fit`` (or ``partial_fit``) call done, and planned.
    loss : tuple of float
        Mean training loss of every epoch, oldest first.
    validation_scores : tuple of float
        Validation score of every epoch (empty without ``early_stopping``).
    learning_rate : float
        The rate the next epoch will use.
    best_epoch : int
        The epoch of the best score so far (validation score, else minus the loss).
    epoch_seconds : float
        Wall time of the last epoch.
    stopping : bool
        Whether the training ends after this epoch (last planned epoch, or stopped).
    """

    epoch: int
    epochs_done: int
    epochs_planned: int
    loss: tuple
    validation_scores: tuple
    learning_rate: float
    best_epoch: int
    epoch_seconds: float
    stopping: bool

    def metric(self, name: str) -> float:
        """Return the last value of ``"loss"``, ``"validation_score"`` or ``"learning_rate"``.

        Parameters
        ----------
        name : {"loss", "validation_score", "learning_rate"}
            The metric.

        Returns
        -------
        float
            Its value after the last epoch.
        """
        if name == "loss":
            return self.loss[-1]
        if name == "validation_score":
            if not self.validation_scores:
                raise ValueError(
                    "monitor='validation_score' needs early_stopping=True on the estimator "
                    "(which holds out the validation data); monitor 'loss' instead"
                )
            return self.validation_scores[-1]
        if name == "learning_rate":
            return self.learning_rate
        raise ValueError(
            f"metric must be 'loss', 'validation_score' or 'learning_rate', got {name!r}"
        )


@_documented
class Callback:
    """Base class: override any of the three methods (each does nothing here)."""

    def on_fit_begin(self, estimator, history: History) -> None:
        """Call before the first epoch of a ``fit`` (or ``partial_fit``) call.

        Parameters
        ----------
        %(hook_parameters)s
        """

    def on_epoch_end(self, estimator, history: History) -> bool | None:
        """Call after every epoch; return True to stop the training.

        Parameters
        ----------
        %(hook_parameters)s

        Returns
        -------
        bool or None
            True stops the training after this epoch.
        """
        return None

    def on_fit_end(self, estimator, history: History) -> None:
        """Call when the training of a ``fit`` call has ended (not after an error).

        Parameters
        ----------
        %(hook_parameters)s
        """


@_documented
class EarlyStopping(Callback):
    """Stop when a metric has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : {"loss", "validation_score"} or callable, default "loss"
        What to watch: a :meth:`History.metric` name, or ``monitor(estimator) -> float``
        (e.g. a score on data of your own).
    patience : int, default 5
        Epochs without improvement tolerated.
    mode : {"auto", "min", "max"}, default "auto"
        Whether lower or higher is better; ``"auto"``: lower for ``"loss"``, higher otherwise.
    min_delta : float, default 0
        The smallest change that counts as an improvement.

    Attributes
    ----------
    best_ : float
        The best value seen in the current fit.
    best_epoch_ : int
        The epoch it was seen at.
    """

    def __init__(self, monitor="loss", patience: int = 5, mode: str = "auto", min_delta=0.0):
        if not (callable(monitor) or monitor in ("loss", "validation_score")):
            raise ValueError(
                f"monitor must be 'loss', 'validation_score' or a callable, got {monitor!r}"
            )
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 1:
            raise ValueError(f"patience must be a positive integer, got {patience!r}")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if not (
            isinstance(min_delta, (int, float)) and math.isfinite(min_delta) and min_delta >= 0
        ):
            raise ValueError(f"min_delta must be a non-negative number, got {min_delta!r}")
        self.monitor, self.patience, self.mode, self.min_delta = monitor, patience, mode, min_delta

    def on_fit_begin(self, estimator, history):
        """Forget the previous fit's best value (see :meth:`Callback.on_fit_begin`).

        Parameters
        ----------
        %(hook_parameters)s
        """
        self.best_, self.best_epoch_, self._wait = None, None, 0

    def on_epoch_end(self, estimator, history):
        """Record the metric and stop after ``patience`` epochs without improvement.

        Parameters
        ----------
        %(hook_parameters)s

        Returns
        -------
        bool
            True to stop.
        """
        value = float(
            self.monitor(estimator) if callable(self.monitor) else history.metric(self.monitor)
        )
        lower_is_better = self.mode == "min" or (self.mode == "auto" and self.monitor == "loss")
        sign = -1.0 if lower_is_better else 1.0
        if self.best_ is None or sign * (value - self.best_) > self.min_delta:
            self.best_, self.best_epoch_, self._wait = value, history.epoch, 0
            return False
        self._wait += 1
        return self._wait >= self.patience


@_documented
class CSVLogger(Callback):
    """Write a row per epoch to a CSV file: epoch, loss, validation score, learning rate, time.

    Parameters
    ----------
    path : str or path-like
        The file; written anew at each fit's first epoch, or appended to with ``append``.
    append : bool, default False
        Continue an existing file (e.g. over ``partial_fit`` calls) instead of replacing it.
    """

    FIELDS = ("epoch", "loss", "validation_score", "learning_rate", "epoch_seconds")

    def __init__(self, path, append: bool = False):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
        self.path, self.append = path, bool(append)

    def on_fit_begin(self, estimator, history):
        """Start the file (header) unless appending to an existing one.

        Parameters
        ----------
        %(hook_parameters)s
        """
        if not (self.append and os.path.exists(self.path)):
            with open(self.path, "w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerow(self.FIELDS)

    def on_epoch_end(self, estimator, history):
        """Append the epoch's row.

        Parameters
        ----------
        %(hook_parameters)s
        """
        score = history.validation_scores[-1] if history.validation_scores else ""
        row = (history.epoch, history.loss[-1], score, history.learning_rate)
        with open(self.path, "a", newline="", encoding="utf-8") as f:
            csv.writer(f).writerow((*row, round(history.epoch_seconds, 4)))


class Checkpoint(Callback):
    """Save the whole estimator every ``every`` epochs (and at the end), atomically.

    The estimators' ``checkpoint_path`` mechanism behind the callback interface: the file holds
    the weights, optimizer moments, schedule, random streams and early-stopping state, and
    ``rnnfast.load(path).resume(X, y)`` finishes an interrupted fit bit-identically. It is
    written once every callback has seen the epoch, so a stop any of them asks for is in it.

    Parameters
    ----------
    path : str or path-like
        The file.
    every : int, default 1
        Epochs between saves.
    """

    def __init__(self, path, every: int = 1):
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or path-like, got {type(path).__name__}")
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be a positive integer, got {every!r}")
        self.path, self.every = path, every

    def due(self, history: History) -> bool:
        """Tell whether the training loop saves to :attr:`path` after this epoch.

        Parameters
        ----------
        history : History
            The record including this epoch.

        Returns
        -------
        bool
            Every ``every`` epochs of the call, and after its last epoch.
        """
        return history.stopping or history.epochs_done % self.every == 0
