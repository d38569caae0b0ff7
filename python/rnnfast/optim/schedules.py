"""Learning-rate schedules, stepped once per epoch, with optional linear warm-up.

A schedule reads the optimizer's learning rate as its base when created and rewrites
``optimizer.learning_rate`` on every :meth:`LRSchedule.step`. With ``warmup_epochs = w > 0``
epoch ``e < w`` uses ``base * (e + 1) / (w + 1)``; the schedule proper then runs on
``e - w``. Usage::

    schedule = CosineLR(optimizer, total_epochs=50, warmup_epochs=5)
    for epoch in range(50):
        train_one_epoch(optimizer)
        schedule.step()          # ReduceLROnPlateau: schedule.step(validation_loss)
"""

from __future__ import annotations

import math

from rnnfast._docstrings import fill_docstrings
from rnnfast._validation import check_number
from rnnfast.persistence import persistable

__all__ = [
    "ConstantLR",
    "CosineLR",
    "ExponentialLR",
    "LRSchedule",
    "ReduceLROnPlateau",
    "StepLR",
    "make_schedule",
]


# Parameter entries every schedule shares (``%(optimizer)s`` and ``%(warmup_epochs)s``).
_DOCS = {
    "optimizer": """\
optimizer : rnnfast.optim.Optimizer
    The optimizer whose ``learning_rate`` the schedule sets (its current rate is the base).""",
    "warmup_epochs": """\
warmup_epochs : int, default 0
    Epochs of linear warm-up to the base rate before the schedule starts.""",
}


def _documented(cls: type) -> type:
    return fill_docstrings(cls, _DOCS)


@persistable()
@_documented
class LRSchedule:
    """Base class of the learning-rate schedules, stepped once per epoch.

    Subclasses give the factor of the base rate at a post-warm-up epoch.

    Parameters
    ----------
    %(optimizer)s
    %(warmup_epochs)s
    """

    _saved_attributes = frozenset({"optimizer", "warmup_epochs", "base_lr", "epoch"})

    def __init__(self, optimizer, *, warmup_epochs: int = 0) -> None:
        self.optimizer = optimizer
        self.warmup_epochs = check_number(warmup_epochs, "warmup_epochs", 0, integer=True)
        self.base_lr = float(optimizer.learning_rate)
        self.epoch = 0
        optimizer.learning_rate = self._rate(0)

    def step(self, metric: float | None = None) -> float:
        """Advance one epoch and set the new learning rate.

        Parameters
        ----------
        metric : float, optional
            The monitored value, for schedules that read one (:class:`ReduceLROnPlateau`).

        Returns
        -------
        float
            The new learning rate.
        """
        self.epoch += 1
        self.optimizer.learning_rate = self._rate(self.epoch, metric)
        return self.optimizer.learning_rate

    def _rate(self, epoch: int, metric: float | None = None) -> float:
        if epoch < self.warmup_epochs:
            return self.base_lr * (epoch + 1) / (self.warmup_epochs + 1)
        return self._scheduled(epoch - self.warmup_epochs, metric)

    def _scheduled(self, epoch: int, metric: float | None) -> float:
        raise NotImplementedError


@persistable()
@_documented
class ConstantLR(LRSchedule):
    """Keep the base rate after warm-up.

    Parameters
    ----------
    %(optimizer)s
    %(warmup_epochs)s
    """

    def _scheduled(self, epoch, metric):
        return self.base_lr


@persistable()
@_documented
class StepLR(LRSchedule):
    """Decay the rate in steps: ``base * gamma ** (epoch // step_size)``.

    Parameters
    ----------
    %(optimizer)s
    step_size : int, default 10
        Epochs between decays.
    gamma : float, default 0.1
        Factor of each decay.
    %(warmup_epochs)s
    """

    _saved_attributes = LRSchedule._saved_attributes | {"step_size", "gamma"}

    def __init__(self, optimizer, step_size: int = 10, gamma: float = 0.1, *, warmup_epochs=0):
        self.step_size = check_number(step_size, "step_size", 1, integer=True)
        self.gamma = check_number(gamma, "gamma", 0, include_low=False)
        super().__init__(optimizer, warmup_epochs=warmup_epochs)

    def _scheduled(self, epoch, metric):
        return self.base_lr * self.gamma ** (epoch // self.step_size)


@persistable()
@_documented
class ExponentialLR(LRSchedule):
    """Decay the rate every epoch: ``base * gamma ** epoch``.

    Parameters
    ----------
    %(optimizer)s
    gamma : float, default 0.95
        Factor per epoch.
    %(warmup_epochs)s
    """

    _saved_attributes = LRSchedule._saved_attributes | {"gamma"}

    def __init__(self, optimizer, gamma: float = 0.95, *, warmup_epochs=0):
        self.gamma = check_number(gamma, "gamma", 0, include_low=False)
        super().__init__(optimizer, warmup_epochs=warmup_epochs)

    def _scheduled(self, epoch, metric):
        return self.base_lr * self.gamma**epoch


@persistable()
@_documented
class CosineLR(LRSchedule):
    """Anneal the rate along a cosine from the base rate down to ``min_lr``.

    The rate is ``min_lr + (base - min_lr) * (1 + cos(pi * min(epoch, T) / T)) / 2`` with
    ``T = total_epochs``.

    Parameters
    ----------
    %(optimizer)s
    total_epochs : int
        Epochs over which the rate falls.
    min_lr : float, default 0
        The final rate.
    %(warmup_epochs)s
    """

    _saved_attributes = LRSchedule._saved_attributes | {"total_epochs", "min_lr"}

    def __init__(self, optimizer, total_epochs: int, min_lr: float = 0.0, *, warmup_epochs=0):
        self.total_epochs = check_number(total_epochs, "total_epochs", 1, integer=True)
        self.min_lr = check_number(min_lr, "min_lr", 0)
        super().__init__(optimizer, warmup_epochs=warmup_epochs)

    def _scheduled(self, epoch, metric):
        progress = min(epoch, self.total_epochs) / self.total_epochs
        return self.min_lr + (self.base_lr - self.min_lr) * (1 + math.cos(math.pi * progress)) / 2


@persistable()
@_documented
class ReduceLROnPlateau(LRSchedule):
    """Multiply the rate by ``factor`` after more than ``patience`` epochs without improvement.

    ``step(metric)`` needs the monitored value; ``mode="min"`` (a loss) counts an epoch as an
    improvement when ``metric < best * (1 - threshold)``, ``mode="max"`` (a score) when
    ``metric > best * (1 + threshold)`` (for negative bests, the sign-aware equivalent).
    The rate never goes below ``min_lr``. This follows ``torch.optim.lr_scheduler``'s
    relative-threshold rule without cooldown.

    Parameters
    ----------
    %(optimizer)s
    factor : float, default 0.5
        Factor of each reduction, in (0, 1).
    patience : int, default 5
        Epochs without improvement tolerated before a reduction.
    threshold : float, default 1e-4
        Relative change that counts as an improvement.
    min_lr : float, default 0
        The rate never goes below this.
    mode : {"min", "max"}, default "min"
        Whether lower (a loss) or higher (a score) is better.
    %(warmup_epochs)s
    """

    _saved_attributes = (
        LRSchedule._saved_attributes
        | {"factor", "mode", "patience", "threshold", "min_lr"}
        | {"best", "bad_epochs", "_current"}
    )

    def __init__(
        self,
        optimizer,
        factor: float = 0.5,
        patience: int = 5,
        threshold: float = 1e-4,
        min_lr: float = 0.0,
        mode: str = "min",
        *,
        warmup_epochs=0,
    ):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.factor = check_number(factor, "factor", 0, 1, include_low=False)
        self.mode = mode
        self.patience = check_number(patience, "patience", 0, integer=True)
        self.threshold = check_number(threshold, "threshold", 0)
        self.min_lr = check_number(min_lr, "min_lr", 0)
        self.best: float | None = None
        self.bad_epochs = 0
        self._current: float | None = None
        super().__init__(optimizer, warmup_epochs=warmup_epochs)

    def step(self, metric: float | None = None) -> float:
        """Advance one epoch with the monitored value and set the new learning rate.

        Parameters
        ----------
        metric : float
            The monitored value of the epoch just finished (finite).

        Returns
        -------
        float
            The new learning rate.
        """
        if metric is None or not math.isfinite(metric):
            raise ValueError(f"ReduceLROnPlateau.step needs a finite metric, got {metric!r}")
        return super().step(metric)

    def _scheduled(self, epoch, metric):
        if self._current is None:  # first post-warm-up epoch
            self._current = self.base_lr
        if metric is not None:
            if self._improved(metric):
                self.best, self.bad_epochs = metric, 0
            else:
                self.bad_epochs += 1
                if self.bad_epochs > self.patience:
                    self._current = max(self._current * self.factor, self.min_lr)
                    self.bad_epochs = 0
        return self._current

    def _improved(self, metric: float) -> bool:
        if self.best is None:
            return True
        margin = abs(self.best) * self.threshold
        return metric < self.best - margin if self.mode == "min" else metric > self.best + margin


SCHEDULES = {
    "constant": ConstantLR,
    "step": StepLR,
    "exponential": ExponentialLR,
    "cosine": CosineLR,
    "plateau": ReduceLROnPlateau,
}


def make_schedule(
    name: str, optimizer, max_epochs: int, params: dict | None = None, warmup_epochs: int = 0
) -> LRSchedule:
    """Build a schedule by name with ``params`` as its keyword arguments.

    Defaults that depend on the run: ``"step"`` uses ``step_size = max(1, max_epochs // 3)`` and
    ``"cosine"`` ``total_epochs = max_epochs - warmup_epochs``.

    Parameters
    ----------
    name : {"constant", "step", "exponential", "cosine", "plateau"}
        The schedule.
    optimizer : rnnfast.optim.Optimizer
        The optimizer it drives.
    max_epochs : int
        Epochs of the run.
    params : dict, optional
        Keyword arguments of the schedule.
    warmup_epochs : int, default 0
        Epochs of linear warm-up.

    Returns
    -------
    LRSchedule
        The schedule.
    """
    if name not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {sorted(SCHEDULES)}, got {name!r}")
    kwargs = dict(params or {})
    if name == "step":
        kwargs.setdefault("step_size", max(1, max_epochs // 3))
    if name == "cosine":
        kwargs.setdefault("total_epochs", max(1, max_epochs - warmup_epochs))
    try:
        return SCHEDULES[name](optimizer, **kwargs, warmup_epochs=warmup_epochs)
    except TypeError as exc:
        raise ValueError(
            f"lr_schedule_params {params!r} do not fit the {name!r} schedule: {exc}"
        ) from exc
