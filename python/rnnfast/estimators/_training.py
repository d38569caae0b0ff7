"""The epoch loop shared by every estimator: mini-batches, clipping, optimizer, schedule,
early stopping, divergence detection and progress output."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import numpy as np

from rnnfast.callbacks import Checkpoint, History
from rnnfast.data.batching import bucketed_batches
from rnnfast.estimators._progress import epoch_progress
from rnnfast.estimators._truncated_bptt import train_truncated
from rnnfast.optim import clip_grad_norm, clip_grad_value, global_norm
from rnnfast.persistence import persistable, save


class TrainingDivergedError(FloatingPointError):
    """The loss or the gradients became NaN or infinite; the last good weights were kept."""


@persistable()
@dataclass
class FitProgress:
    """Where the fit in progress stands: what a checkpoint needs to finish it exactly."""

    epochs: int  # epochs this fit runs at most
    done: int = 0
    stale_epochs: int = 0  # epochs since the validation score last improved
    best_params: dict | None = None  # weights of the best validation epoch so far
    split_seed: int | None = None  # seeds the early-stopping validation split
    data_digest: str = ""  # fingerprint of the training data, checked on resume

    @property
    def finished(self) -> bool:
        return self.done >= self.epochs


@persistable()
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
    steps: int = 0  # optimizer steps taken
    progress: FitProgress | None = None


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


def training_digest(train: TrainingData) -> str:
    """Fingerprint of the training arrays (values, lengths, targets, weights)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (train.sequences.values, train.sequences.lengths, train.targets, train.weights):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(
            array.view(np.uint8).reshape(-1)
            if array.dtype != object
            else repr(array.tolist()).encode()
        )
    return digest.hexdigest()


def run_epochs(est, network, state: TrainingState, train: TrainingData, validation, checkpoint):
    """Train ``network`` in place until ``state.progress`` is finished or early stopping.

    ``est`` supplies the hyperparameters and the task hooks ``_loss`` and
    ``_validation_score``; ``validation`` is held-out ``TrainingData`` or None;
    ``checkpoint()`` is called after every ``est.checkpoint_every``-th epoch when
    ``est.checkpoint_path`` is set. Raises :class:`TrainingDivergedError` after restoring the
    weights from the start of the epoch in which the loss or a gradient stopped being finite.
    """
    # Non-finite losses and gradients are detected below and reported as divergence, so
    # numpy's overflow warnings on the way there are noise.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        _run_epochs(est, network, state, train, validation, checkpoint)


def _run_epochs(est, network, state, train, validation, checkpoint):
    progress = state.progress
    n = len(train.sequences)
    callbacks = list(est.callbacks or ())
    for callback in callbacks:
        callback.on_fit_begin(est, _history(state, 0.0))
    while not progress.finished:
        epoch = len(state.loss_curve) + 1
        started = time.perf_counter()
        start = _EpochStart(network, state)
        last_good = start.params
        display = None
        try:
            batches = bucketed_batches(train.sequences.lengths, est.batch_size, state.rng)
            if est.verbose >= 2:
                display = epoch_progress(progress.done + 1, progress.epochs, len(batches))
            total, seen = 0.0, 0
            for number, index in enumerate(batches, 1):
                seqs, targets, weights = train.batch(index, est._per_step)

                loss = _train_batch(
                    est, network, state, (seqs, targets, weights), last_good, (epoch, number)
                )
                total += loss * len(index)
                seen += len(index)
                if display is not None:
                    display.update(total / seen)  # the mean so far, not a growing sum
        except BaseException:  # Ctrl-C, divergence, ...: the fit stands at this epoch's start
            start.rewind(network, state)
            raise
        finally:
            if display is not None:
                display.close()
        state.loss_curve.append(total / n)
        progress.done += 1

        score = None
        if validation is not None:
            score = est._validation_score(validation)
            state.validation_scores.append(score)
        monitored = score if score is not None else -state.loss_curve[-1]
        if monitored > state.best_score:
            state.best_score, state.best_epoch, progress.stale_epochs = monitored, epoch, 0
            if validation is not None:
                progress.best_params = {k: v.copy() for k, v in network.params.items()}
        else:
            progress.stale_epochs += 1
        if est.lr_schedule == "plateau":
            state.schedule.step(monitored)  # mode="max" is set for it, see _base
        else:
            state.schedule.step()
        if est.verbose:
            _report(
                epoch, state, score, state.optimizer.learning_rate, time.perf_counter() - started
            )
        if validation is not None and progress.stale_epochs >= est.patience:
            if est.verbose:
                print(f"early stopping: best validation score at epoch {state.best_epoch}")
            progress.done = progress.epochs
        est._publish_history()  # fitted attributes follow every epoch, so an interrupt
        # leaves them agreeing with network_ and resume() can finish the fit
        seconds = time.perf_counter() - started
        # callbacks see the epoch before it is checkpointed, so a stop they ask for is saved
        history = _history(state, seconds)
        stops = [type(c).__name__ for c in callbacks if c.on_epoch_end(est, history)]
        if stops and not progress.finished:
            if est.verbose:
                print(f"stopped by {', '.join(stops)} after epoch {epoch}")
            progress.done = progress.epochs
            history = _history(state, seconds)
        if est.checkpoint_path is not None and (
            progress.done % est.checkpoint_every == 0 or progress.finished
        ):
            checkpoint()
        for callback in callbacks:
            if isinstance(callback, Checkpoint) and callback.due(history):
                save(est, callback.path)  # the checkpoint_path mechanism, to its own file
    if progress.best_params is not None:
        for name, value in progress.best_params.items():
            network.params[name][...] = value
    for callback in callbacks:
        callback.on_fit_end(est, _history(state, 0.0))


def _history(state: TrainingState, epoch_seconds: float) -> History:
    """The read-only record callbacks get: the training so far."""
    progress = state.progress
    return History(
        epoch=len(state.loss_curve),
        epochs_done=progress.done,
        epochs_planned=progress.epochs,
        loss=tuple(state.loss_curve),
        validation_scores=tuple(state.validation_scores),
        learning_rate=float(state.optimizer.learning_rate),
        best_epoch=state.best_epoch,
        epoch_seconds=epoch_seconds,
        stopping=progress.finished,
    )


class _EpochStart:
    """What an epoch changes, as it was when the epoch began: the weights, the optimizer's
    state and step count, and every random stream (batch order, dropout masks)."""

    def __init__(self, network, state: TrainingState) -> None:
        self.params = {k: v.copy() for k, v in network.params.items()}
        self.optimizer = state.optimizer.state_dict()
        self.steps = state.steps
        self.generators = [g.bit_generator.state for g in _generators(network, state)]

    def rewind(self, network, state: TrainingState) -> None:
        for name, value in self.params.items():
            network.params[name][...] = value
        state.optimizer.load_state_dict(self.optimizer)
        state.steps = self.steps
        for generator, saved in zip(_generators(network, state), self.generators, strict=True):
            generator.bit_generator.state = saved


def _generators(network, state: TrainingState) -> list:
    return [state.rng, *network.random_generators()]


def _train_batch(est, network, state, batch, last_good, position) -> float:
    """One mini-batch: one optimizer step, or one per time window with ``bptt_steps``."""
    seqs, targets, weights = batch
    epoch, number = position

    def learn(loss: float, grad: np.ndarray, window: str = "") -> None:
        where = f"epoch {epoch}, batch {number}" + (f", {window}" if window else "")
        _backward_and_step(est, network, state, (loss, grad), last_good, where)

    if est.bptt_steps is not None:
        return train_truncated(est, network, seqs, targets, weights, learn)
    outputs = est._network_forward(network, seqs, training=True)
    if not np.isfinite(outputs).all():  # diverged already; a loss may refuse such input (CTC)
        where = f"epoch {epoch}, batch {number}"
        _diverged(
            network, last_good, "the network's outputs became non-finite", state.steps + 1, where
        )
    loss, grad = est._loss(outputs, targets, weights, seqs.lengths)
    learn(loss, grad)
    return loss


def _backward_and_step(est, network, state, loss_and_grad, last_good, where):
    """Backpropagate, clip, stop on a non-finite loss or gradient, step the optimizer."""
    loss, grad = loss_and_grad
    if not (np.isfinite(loss) and np.isfinite(grad).all()):
        _diverged(network, last_good, f"the loss became {loss}", state.steps + 1, where)
    network.backward(grad)
    if est.clip_value is not None:
        clip_grad_value(network.grads, est.clip_value)
    norm = (
        clip_grad_norm(network.grads, est.clip_norm)
        if est.clip_norm is not None
        else global_norm(network.grads)
    )
    if not np.isfinite(norm):
        _diverged(network, last_good, f"the gradient norm became {norm}", state.steps + 1, where)
    state.optimizer.step(network.grads)
    state.steps += 1


def _diverged(network, last_good, what: str, step: int, where: str):
    for name, value in last_good.items():
        network.params[name][...] = value
    raise TrainingDivergedError(
        f"training diverged: {what} at optimizer step {step} ({where}); the weights from the "
        "start of that epoch were kept. Lower learning_rate, set clip_norm, or scale the inputs."
    )


def _report(epoch: int, state: TrainingState, score, lr: float, seconds: float) -> None:
    line = f"epoch {epoch:4d}  loss {state.loss_curve[-1]:.5f}"
    if score is not None:
        line += f"  validation score {score:.5f}"
    print(f"{line}  lr {lr:.2e}  {seconds:.2f}s", flush=True)
