"""Truncated backpropagation through time (``bptt_steps``).

A mini-batch is cut along time into windows of ``bptt_steps`` steps and trained one window
after another: the recurrent state at the end of a window starts the next one, but gradients
stop there. So the forward cache and the backward work buffers hold one window, whatever the
sequence length, and each window is one optimizer step (as in the classic language-model
recipe). With ``bptt_steps`` at least the longest sequence there is one window and training is
exactly full BPTT.

Per-step tasks score every valid step of a window. Per-sequence tasks score a sequence in the
window that holds its last step, so they learn from that window only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnfast.data.batching import batch_lengths, per_step_mask


@dataclass
class TimeWindow:
    """Steps ``[start, stop)`` of a mini-batch."""

    start: int
    stop: int
    rows: np.ndarray  # batch rows still running (length > start); shrinks from window to window
    lengths: np.ndarray  # their valid steps inside the window, each >= 1
    scored: np.ndarray  # bool per row of `rows`: the loss reads this row in this window


def time_windows(lengths: np.ndarray, steps: int, per_step: bool) -> list[TimeWindow]:
    """The windows of ``steps`` time steps that cover a batch with these ``lengths``."""
    windows = []
    for start in range(0, int(lengths.max()), steps):
        stop = start + steps
        rows = np.flatnonzero(lengths > start)
        scored = np.ones(len(rows), bool) if per_step else lengths[rows] <= stop
        inner = np.minimum(lengths[rows], stop) - start
        windows.append(TimeWindow(start, start + int(inner.max()), rows, inner, scored))
    return windows


def windowed_forwards(network, values, lengths, steps: int, per_step: bool, training: bool):
    """Forward ``network`` over a padded batch ``steps`` time steps at a time, each window
    starting from the state the previous one ended in; yields ``(window, outputs)``.

    The next forward runs only when the caller asks for the next window, so a caller may
    backpropagate and update the weights in between (truncated BPTT).
    """
    state = None  # the carried state, one row per batch row (rows that ended keep theirs)
    for window in time_windows(lengths, steps, per_step):
        rows = window.rows
        outputs, new_state = network.forward(
            values[rows, window.start : window.stop],
            batch_lengths(window.lengths),
            hx=None if state is None else _take_rows(state, rows),
            training=training,
            return_state=True,
        )
        state = new_state if state is None else _put_rows(state, rows, new_state)
        yield window, outputs


def train_truncated(est, network, seqs, targets, weights, learn) -> float:
    """Train ``network`` on one mini-batch window by window; returns the batch's loss.

    ``learn(loss, grad_outputs, where)`` backpropagates the window's last forward and steps
    the optimizer; ``where`` names the window for error messages. The returned loss is the
    windows' losses averaged with their loss weights, comparable with a full-BPTT batch loss.
    """
    per_step = est._per_step
    loss_sum = weight_sum = 0.0
    windows = windowed_forwards(
        network, seqs.values, seqs.lengths, est.bptt_steps, per_step, training=True
    )
    for window, outputs in windows:
        rows, span = window.rows, slice(window.start, window.stop)
        if per_step:
            step_weights = weights[rows, span] * per_step_mask(window.lengths, outputs.shape[1])
            loss_weight = float(step_weights.sum())
        else:
            loss_weight = float(weights[rows][window.scored].sum())
        if loss_weight <= 0:
            continue  # nothing scored here: the window only carries the state forward

        if per_step:
            loss, grad = est._loss(
                outputs, targets[rows, span], weights[rows, span], window.lengths
            )
        else:
            scored = window.scored
            loss, grad_scored = est._loss(
                outputs[scored], targets[rows][scored], weights[rows][scored], None
            )
            grad = np.zeros_like(outputs)
            grad[scored] = grad_scored
        learn(loss, grad, f"time steps {window.start}-{window.stop - 1}")
        loss_sum += loss * loss_weight
        weight_sum += loss_weight
    return loss_sum / weight_sum if weight_sum > 0 else 0.0


def stream_outputs(network, values: np.ndarray, lengths: np.ndarray, window: int) -> np.ndarray:
    """Inference over long sequences ``window`` steps at a time, carrying the state, so that
    only one window's activations are held. Same outputs as one forward over the whole batch
    (unidirectional networks only)."""
    per_step = network.per_step
    result = None
    for win, outputs in windowed_forwards(network, values, lengths, window, per_step, False):
        if result is None:
            shape = (len(lengths), values.shape[1]) if per_step else (len(lengths),)
            result = np.zeros((*shape, outputs.shape[-1]), outputs.dtype)
        if per_step:
            result[win.rows, win.start : win.stop] = outputs
        else:
            result[win.rows[win.scored]] = outputs[win.scored]
    return result


def _take_rows(state, rows):
    if isinstance(state, tuple):
        return tuple(s[:, rows] for s in state)
    return state[:, rows]


def _put_rows(state, rows, new):
    if isinstance(state, tuple):
        for full, part in zip(state, new, strict=True):
            full[:, rows] = part
    else:
        state[:, rows] = new
    return state
