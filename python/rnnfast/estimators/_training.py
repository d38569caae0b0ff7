"""The epoch loop shared by every estimator: mini-batches, clipping, optimizer, schedule,
early stopping, divergence detection and progress output."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from rnnfast.data.batching import batch_lengths, bucketed_batches
from rnnfast.optim import clip_grad_norm, clip_grad_value, global_norm


class TrainingDivergedError(FloatingPointError):
    """The loss or the gradients became NaN or infinite; the last good weights were kept."""


@dataclass
class TrainingState:
    """What persists across ``fit`` calls with ``warm_start`` and across ``partial_fit`` calls."""

    optimizer: object
    schedule: object
    rng: np.random.Generator
    loss_curve: list[float] = field(default_factory=list)
    validation_scores: list[float] = field(default_factory=list)
    best_score: float = -np.inf
    best_epoch: int = 0


@dataclass
class TrainingData:
    """Network inputs with targets and weights aligned on the first axis (and the time axis
    for per-step tasks)."""

    sequences: object  # rnnfast.data.Sequences
    targets: np.ndarray
    weights: np.ndarray

    def batch(self, index: np.ndarray, per_step: bool):
        seqs = self.sequences.subset(index)
        time_steps = seqs.values.shape[1]
        cut = (lambda a: a[index, :time_steps]) if per_step else (lambda a: a[index])
        return seqs, cut(self.targets), cut(self.weights)


def run_epochs(est, network, state: TrainingState, train: TrainingData, validation, epochs: int):
    """Train ``network`` in place for up to ``epochs`` epochs.

    ``est`` supplies the hyperparameters and the task hooks ``_loss`` and
    ``_validation_score``; ``validation`` is held-out ``TrainingData`` or None. Raises
    :class:`TrainingDivergedError` after restoring the weights from the start of the epoch
    in which the loss or a gradient stopped being finite.
    """
    # Non-finite losses and gradients are detected below and reported as divergence, so
    # numpy's overflow warnings on the way there are noise.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _run_epochs(est, network, state, train, validation, epochs)


def _run_epochs(est, network, state, train, validation, epochs):
    best_params = None
    stale_epochs = 0
    n = len(train.sequences)
    for _ in range(epochs):
        epoch = len(state.loss_curve) + 1
        started = time.perf_counter()
        last_good = {k: v.copy() for k, v in network.params.items()}
        batches = bucketed_batches(train.sequences.lengths, est.batch_size, state.rng)
        total = 0.0
        for number, index in enumerate(batches, 1):
            seqs, targets, weights = train.batch(index, est._per_step)
            outputs = network.forward(seqs.values, batch_lengths(seqs.lengths))
            loss, grad = est._loss(outputs, targets, weights, seqs.lengths)
            network.backward(grad)
            if est.clip_value is not None:
                clip_grad_value(network.grads, est.clip_value)
            norm = (
                clip_grad_norm(network.grads, est.clip_norm)
                if est.clip_norm is not None
                else global_norm(network.grads)
            )
            if not (np.isfinite(loss) and np.isfinite(norm)):
                for name, value in last_good.items():
                    network.params[name][...] = value
                what = "loss" if not np.isfinite(loss) else "gradient norm"
                raise TrainingDivergedError(
                    f"training diverged: the {what} became {loss if what == 'loss' else norm} "
                    f"in epoch {epoch}, batch {number}; the weights from the start of that epoch "
                    "were kept. Lower learning_rate, set clip_norm, or scale the inputs."
                )
            state.optimizer.step(network.grads)
            total += loss * len(index)
            if est.verbose >= 2:
                _progress_bar(epoch, number, len(batches), total / n)
        state.loss_curve.append(total / n)

        score = None
        if validation is not None:
            score = est._validation_score(validation)
            state.validation_scores.append(score)
        monitored = score if score is not None else -state.loss_curve[-1]
        if monitored > state.best_score:
            state.best_score, state.best_epoch, stale_epochs = monitored, epoch, 0
            if validation is not None:
                best_params = {k: v.copy() for k, v in network.params.items()}
        else:
            stale_epochs += 1
        if est.lr_schedule == "plateau":
            state.schedule.step(monitored)  # mode="max" is set for it, see _base
        else:
            state.schedule.step()
        if est.verbose:
            _report(
                epoch, state, score, state.optimizer.learning_rate, time.perf_counter() - started
            )
        if validation is not None and stale_epochs >= est.patience:
            if est.verbose:
                print(f"early stopping: best validation score at epoch {state.best_epoch}")
            break
    if best_params is not None:
        for name, value in best_params.items():
            network.params[name][...] = value


def _progress_bar(epoch: int, done: int, total: int, loss: float) -> None:
    width = 30
    filled = width * done // total
    bar = "#" * filled + "-" * (width - filled)
    sys.stdout.write(f"\repoch {epoch:4d} [{bar}] {done}/{total} loss {loss:.4f}")
    if done == total:
        sys.stdout.write("\r")
    sys.stdout.flush()


def _report(epoch: int, state: TrainingState, score, lr: float, seconds: float) -> None:
    line = f"epoch {epoch:4d}  loss {state.loss_curve[-1]:.5f}"
    if score is not None:
        line += f"  validation score {score:.5f}"
    print(f"{line}  lr {lr:.2e}  {seconds:.2f}s", flush=True)
