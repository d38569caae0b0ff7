"""Thread safety: one fitted estimator serving several Python threads at once, and the GIL
released while the C++ core computes (so threads overlap instead of queueing)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import rnnfast
from rnnfast import nn


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 3)).astype(np.float32) for n in rng.integers(2, 40, size=60)]
    y = np.array([s[:, 0].sum() > 0 for s in X])
    model = rnnfast.RNNClassifier(hidden_size=16, num_layers=2, max_epochs=2, random_state=0)
    return model.fit(X, y), rng


@pytest.mark.parametrize("workers", [2, 8])
def test_concurrent_predictions_equal_serial_ones(fitted, workers):
    model, rng = fitted
    inputs = [
        [rng.normal(size=(n, 3)).astype(np.float32) for n in rng.integers(1, 300, size=40)]
        for _ in range(24)
    ]
    serial = [model.predict_proba(X) for X in inputs]
    with ThreadPoolExecutor(workers) as pool:
        for _ in range(3):
            concurrent = list(pool.map(model.predict_proba, inputs))
            for got, expected in zip(concurrent, serial, strict=True):
                assert np.array_equal(got, expected)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_concurrent_module_forwards_equal_serial_ones(cell):
    rng = np.random.default_rng(1)
    module = nn.make_recurrent(cell, 5, 24, num_layers=2, bidirectional=True, random_state=0)
    batches = [rng.normal(size=(int(b), 50, 5)).astype(np.float32) for b in range(1, 17)]
    serial = [module.forward(x, training=False)[0] for x in batches]
    with ThreadPoolExecutor(4) as pool:
        concurrent = list(pool.map(lambda x: module.forward(x, training=False)[0], batches))
    for got, expected in zip(concurrent, serial, strict=True):
        assert np.array_equal(got, expected)


def test_the_gil_is_released_during_compute():
    """While another thread is inside one long C++ forward, this thread keeps running Python.

    The loop below timestamps its iterations. Were the GIL held through the call, the loop
    would stall for the whole call: its longest gap would be the call's duration. Released,
    the gaps stay at the operating system's scheduling scale.
    """
    module = nn.LSTM(64, 256, random_state=0)
    x = np.random.default_rng(2).normal(size=(32, 1500, 64)).astype(np.float32)
    inside, done = threading.Event(), threading.Event()
    call = {}
    original = rnnfast.backends.cpu.layer_forward

    def timed_layer_forward(*args, **kwargs):
        inside.set()
        call["start"] = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            call["end"] = time.perf_counter()
            done.set()

    rnnfast.backends.cpu.layer_forward = timed_layer_forward
    try:
        worker = threading.Thread(target=module.forward, args=(x,), kwargs={"training": False})
        worker.start()
        inside.wait()
        stamps = []
        while not done.is_set():
            stamps.append(time.perf_counter())
        worker.join()
    finally:
        rnnfast.backends.cpu.layer_forward = original
    duration = call["end"] - call["start"]
    assert duration > 0.2, "the call must be long enough to tell"
    stamps = np.array([call["start"], *stamps, call["end"]])
    stamps = stamps[(stamps >= call["start"]) & (stamps <= call["end"])]
    assert np.diff(stamps).max() < 0.5 * duration


def test_predict_while_fitting_leaves_the_fit_unchanged():
    """sklearn's ``predict`` never changes fitted state: predictions running in another thread
    during a (warm-started) fit of the same estimator neither break it nor change it — the fit
    ends bit-identical to the same fit without them."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(96, 30, 3)).astype(np.float32)
    y = (X[:, :, 0].sum(axis=1) > 0).astype(int)

    def model():
        return rnnfast.RNNClassifier(
            hidden_size=32, dropout=0.2, num_layers=2, max_epochs=1, random_state=0
        ).fit(X, y)

    quiet = model().set_params(max_epochs=6, warm_start=True).fit(X, y)
    busy = model()
    stop, predictions = threading.Event(), []

    def predict_continuously():
        while not stop.is_set():
            predictions.append(busy.predict_proba(X[:16]))

    thread = threading.Thread(target=predict_continuously)
    thread.start()
    try:
        busy.set_params(max_epochs=6, warm_start=True).fit(X, y)
    finally:
        stop.set()
        thread.join()
    assert len(predictions) > 1
    for name, value in quiet.network_.params.items():
        np.testing.assert_array_equal(busy.network_.params[name], value, err_msg=name)
    assert busy.loss_curve_ == quiet.loss_curve_
