"""Truncated BPTT (``bptt_steps``) and windowed inference on long sequences.

Correctness: full-length windows are exactly full BPTT, and shorter windows match a PyTorch
reference that detaches the carried state. Memory: peak resident memory of training on a
100,000-step sequence, measured in fresh processes.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import rnnfast
from rnnfast.data.batching import per_step_mask
from rnnfast.estimators import _base
from rnnfast.estimators._truncated_bptt import time_windows
from rnnfast.interop import to_torch


def _params_equal(a, b) -> bool:
    return all(
        np.array_equal(a.network_.params[k], b.network_.params[k]) for k in a.network_.params
    )


@pytest.fixture
def ragged():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 31, size=14)
    X = [rng.normal(size=(n, 3)).astype(np.float32) for n in lengths]
    return X, rng


def test_windows_cover_each_sequence_once():
    lengths = np.array([10, 3, 7, 1])
    windows = time_windows(lengths, 4, per_step=False)
    assert [(w.start, w.stop) for w in windows] == [(0, 4), (4, 8), (8, 10)]
    assert [w.rows.tolist() for w in windows] == [[0, 1, 2, 3], [0, 2], [0]]
    assert [w.lengths.tolist() for w in windows] == [[4, 3, 4, 1], [4, 3], [2]]
    # a sequence is scored in the window holding its last step
    assert [w.rows[w.scored].tolist() for w in windows] == [[1, 3], [2], [0]]
    per_step = time_windows(lengths, 4, per_step=True)
    assert all(w.scored.all() for w in per_step)


# A classifier that reads only its final state, forwards: what windows and streaming need
# (its defaults are bidirectional with max pooling)
STREAMABLE = dict(bidirectional=False, pooling="last")


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("task", ["classifier", "tagger", "regressor"])
def test_windows_as_long_as_the_data_are_exactly_full_bptt(ragged, cell, task):
    X, _ = ragged
    if task == "tagger":
        est, y = rnnfast.SequenceTagger(bidirectional=False), [(s[:, 0] > 0).astype(int) for s in X]
    elif task == "classifier":
        est, y = rnnfast.RNNClassifier(**STREAMABLE), np.array([s[:, 0].sum() > 0 for s in X])
    else:
        est, y = rnnfast.RNNRegressor(), np.array([s[:, 0].sum() for s in X])
    est.set_params(
        cell=cell, hidden_size=8, max_epochs=2, batch_size=5, dropout=0.2, random_state=0
    )
    full = clone_fit(est, X, y)
    longest = max(len(s) for s in X)
    windowed = clone_fit(est.set_params(bptt_steps=longest), X, y)
    assert _params_equal(full, windowed)
    assert full.loss_curve_ == windowed.loss_curve_


def clone_fit(est, X, y):
    return copy.deepcopy(est).fit(X, y)


def test_per_sequence_tasks_step_once_per_batch():
    """Windows before a sequence's last one carry state only: no loss, no optimizer step."""
    X = np.random.default_rng(0).normal(size=(14, 30, 3)).astype(np.float32)
    y = X[:, :, 0].sum(axis=1) > 0
    est = rnnfast.RNNClassifier(
        hidden_size=8, max_epochs=2, batch_size=5, bptt_steps=4, random_state=0, **STREAMABLE
    ).fit(X, y)
    assert est._training_.steps == 2 * 3  # 14 sequences in batches of 5: 3 batches per epoch


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_truncated_training_matches_torch_with_detached_state(cell):
    """One epoch of windows of 4 over 11 steps equals PyTorch's TBPTT recipe: forward a
    window from the detached carried state, mean cross-entropy, backward, SGD step."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(6, 11, 3)).astype(np.float32)
    y = (X[:, :, 0] > 0).astype(int)
    est = rnnfast.SequenceTagger(
        cell=cell,
        bidirectional=False,
        hidden_size=7,
        optimizer="sgd",
        momentum=0.0,
        learning_rate=0.5,
        clip_norm=None,
        batch_size=6,
        max_epochs=1,
        random_state=0,
        standardize=False,  # the reference feeds X as it is
    ).fit(X, y)
    reference = torch_tbptt(copy.deepcopy(est), X, y, window=4, lr=0.5)
    est.set_params(bptt_steps=4, warm_start=True).fit(X, y)
    assert est._training_.steps == 1 + 3
    for name, value in est.network_.params.items():
        np.testing.assert_allclose(value, reference[name], rtol=1e-5, atol=1e-6, err_msg=name)


def torch_tbptt(est, X, y, window, lr):
    """Parameters after one epoch of classic TBPTT in PyTorch from ``est``'s network."""
    net = est.network_
    recurrent, head = to_torch(net.recurrent), to_torch(net.head)
    params = dict(recurrent.named_parameters(prefix="recurrent"))
    params.update(head.named_parameters(prefix="head"))
    x, target = torch.from_numpy(X), torch.from_numpy(y)
    state = None
    for start in range(0, X.shape[1], window):
        out, state = recurrent(x[:, start : start + window], state)
        logits = head(out)
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), target[:, start : start + window].reshape(-1)
        )
        for p in params.values():
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p in params.values():
                p -= lr * p.grad
        state = tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()
    return {name: p.detach().numpy() for name, p in params.items()}


@pytest.mark.parametrize("task", ["classifier", "tagger"])
def test_long_inference_streams_in_windows_with_the_same_results(monkeypatch, ragged, task):
    X, _ = ragged
    if task == "tagger":
        est = rnnfast.SequenceTagger(bidirectional=False)
        y = [(s[:, 0] > 0).astype(int) for s in X]
    else:
        est, y = rnnfast.RNNClassifier(**STREAMABLE), np.array([s[:, 0].sum() > 0 for s in X])
    est.set_params(hidden_size=8, max_epochs=2, random_state=0).fit(X, y)
    whole = est._forward_all(est._check_X(X, fitting=False))
    calls = []
    real_forward = est.network_.forward

    def recording_forward(x, *args, **kwargs):
        calls.append(x.shape[1])
        return real_forward(x, *args, **kwargs)

    monkeypatch.setattr(_base, "_STREAM_WINDOW", 4)
    monkeypatch.setattr(est.network_, "forward", recording_forward)
    streamed = est._forward_all(est._check_X(X, fitting=False))
    assert max(calls) == 4  # never more than one window at a time
    if task == "tagger":  # padding steps are not outputs: compare the valid steps
        valid = per_step_mask(np.array([len(s) for s in X]), whole.shape[1])
        streamed, whole = streamed[valid], whole[valid]
    np.testing.assert_allclose(streamed, whole, rtol=1e-5, atol=1e-6)


def test_bptt_steps_errors():
    X = np.zeros((4, 5, 1), np.float32)
    y = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="bptt_steps needs bidirectional=False"):
        rnnfast.SequenceTagger(bptt_steps=3).fit(X, np.zeros((4, 5), int))
    for bad, error in [(0, ValueError), (2.5, TypeError), ("10", TypeError)]:
        with pytest.raises(error, match="bptt_steps"):
            rnnfast.RNNClassifier(bptt_steps=bad).fit(X, y)
    with pytest.raises(ValueError, match="bptt_steps is not supported"):
        rnnfast.RNNAnomalyDetector(method="reconstruction", bptt_steps=3, max_epochs=1).fit(X)


_MEMORY_PROBE = textwrap.dedent(
    """
    import json, resource, sys
    import numpy as np
    import rnnfast
    steps, bptt, mode = int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1, steps, 1)).astype(np.float32)
    labels = (np.concatenate([[0.0], x[0, :-1, 0]]) > 0).astype(int)[None]
    model = rnnfast.SequenceTagger(cell="lstm", hidden_size=64, bidirectional=False,
                                   bptt_steps=bptt, max_epochs=1, random_state=0)
    if mode == "predict-whole":  # switch streaming off, for contrast
        import rnnfast.estimators._base as base
        base._STREAM_WINDOW = 10**9
    if mode.startswith("predict"):
        model.set_params(bptt_steps=None).fit(x[:, :200], labels[:, :200])
    def status_kib(field):
        with open("/proc/self/status") as status:
            line = next(l for l in status if l.startswith(field))
        return int(line.split()[1])
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak (VmHWM) to the current resident size
    before = status_kib("VmHWM:")
    if mode == "fit":
        model.fit(x, labels)
    else:
        model.predict(x)
    print(json.dumps({"growth_mib": (status_kib("VmHWM:") - before) / 1024,
                      "accuracy": float(model.score(x, labels)) if mode == "fit" else None}))
    """
)


def _peak_growth(steps: int, bptt, mode: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(steps), json.dumps(bptt), mode],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return json.loads(done.stdout)


@pytest.mark.slow
def test_training_memory_on_100k_steps_is_bounded_by_the_window():
    """Full BPTT over 100,000 steps holds every step's gates (hundreds of MiB); with
    ``bptt_steps=100`` the peak hardly moves. The model still learns the one-step memory
    task (label = sign of the previous input)."""
    truncated = _peak_growth(100_000, 100, "fit")
    full = _peak_growth(100_000, None, "fit")
    assert truncated["growth_mib"] < 32, truncated
    assert full["growth_mib"] > 150, full
    assert truncated["accuracy"] > 0.9


@pytest.mark.slow
def test_inference_memory_on_100k_steps_is_bounded():
    """Inference streams 4096 steps at a time; one forward over the whole sequence would
    hold every step's gates."""
    streamed = _peak_growth(100_000, None, "predict")
    whole = _peak_growth(100_000, None, "predict-whole")
    assert streamed["growth_mib"] < 32, streamed
    assert whole["growth_mib"] > 64, whole
