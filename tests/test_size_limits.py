"""The core's 32-bit size limit (reliability issue, finding 9): the nn modules refuse a call
past it with a ValueError before allocating anything of its size, and the estimators split
their inference batches and windows to stay inside it."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import rnnfast
from rnnfast import nn
from rnnfast.nn import recurrent


@pytest.mark.parametrize(
    "module, width",
    [(nn.LSTM(1, 256), 1024), (nn.GRU(1, 256), 1024), (nn.RNN(1, 512, bidirectional=True), 1024)],
    ids=["lstm", "gru", "rnn"],
)
def test_a_call_past_the_limit_is_refused_before_allocating(module, width):
    """Was a MemoryError of 8 GiB (the output was allocated before the size check)."""
    time = 2**31 // width  # time * 1 * width = 2**31 > 2**31 - 1
    x = np.zeros((1, time, 1), np.float32)  # 8 MiB
    assert module.max_batch(time) == 0 and module.max_batch(time - 1) == 1
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"pass at most 0 sequences of this length"):
            module.forward(x, training=False)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, peak


def test_max_batch_is_the_core_limit():
    lstm = nn.LSTM(3, 8, bidirectional=True)
    # rows of max(3, 2 * 8, 4 * 8) = 32 elements per step and sample
    assert lstm.max_batch(1000) == (2**31 - 1) // (1000 * 32)
    assert nn.SequenceNetwork("rnn", 700, 8, 2).max_batch(10) == (2**31 - 1) // 7000
    with pytest.raises(ValueError, match="time must be a positive integer"):
        lstm.max_batch(0)


@pytest.mark.parametrize("cell, bidirectional", [("lstm", False), ("gru", True)])
def test_estimators_split_batches_to_stay_inside_the_limit(monkeypatch, cell, bidirectional):
    """Was: predict on (256, 4096) after fitting RNNClassifier(hidden_size=512) failed 'too
    large for 32-bit BLAS indexing'. The limit is lowered here so that the split shows at a
    size a unit test can afford; the code path is the one the real limit takes."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 30, 2)).astype(np.float32)
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    clf = rnnfast.RNNClassifier(
        cell=cell, bidirectional=bidirectional, hidden_size=8, max_epochs=1, random_state=0
    ).fit(X, y)
    expected = clf.predict_proba(X)
    # 40 sequences * 30 steps * 32 elements = 38,400 > 10,000: needs batches of at most 10
    monkeypatch.setattr(recurrent, "MAX_ELEMENTS", 10_000)
    network_input = np.zeros((40, 30, clf.network_.input_size), np.float32)  # all at once
    with pytest.raises(ValueError, match="too large for one call"):
        clf.network_.forward(network_input, training=False)
    np.testing.assert_allclose(clf.predict_proba(X), expected, rtol=1e-6, atol=1e-7)


def test_streaming_windows_shrink_when_one_sequence_does_not_fit(monkeypatch):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 200, 1)).astype(np.float32)
    reg = rnnfast.RNNRegressor(hidden_size=4, max_epochs=1, random_state=0).fit(X, X[:, -1, 0])
    expected = reg.predict(X)
    # 200 steps * 16 elements = 3,200 > 1,000: even one sequence must be read in windows
    monkeypatch.setattr(recurrent, "MAX_ELEMENTS", 1_000)
    np.testing.assert_allclose(reg.predict(X), expected, rtol=1e-5, atol=1e-6)
