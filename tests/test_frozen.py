"""Frozen modules (``RecurrentStack.freeze``): weights packed once, the same numbers bit for bit.

A frozen copy skips packing its weights on every call; each output is still one FMA chain over
k in order, whichever pack holds its row of W, so it must equal the module's inference forward
exactly on every path (row split with the packed slices or BLAS, column split), thread count,
cell, dtype, direction and ragged length.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

import rnnfast
from rnnfast import nn
from rnnfast.backends import cpu

CELLS = {
    "rnn_tanh": lambda **kw: nn.RNN(nonlinearity="tanh", **kw),
    "rnn_relu": lambda **kw: nn.RNN(nonlinearity="relu", **kw),
    "lstm": nn.LSTM,
    "gru": nn.GRU,
}


@pytest.fixture
def split():
    """Force a step split for the test, restoring the automatic choice after."""
    previous = []

    def force(name):
        previous.append(cpu.set_step_split(name))

    yield force
    for name in reversed(previous):
        cpu.set_step_split(name)


def _inputs(rng, batch, time, features, dtype, ragged):
    x = rng.standard_normal((batch, time, features)).astype(dtype)
    lengths = rng.integers(1, time + 1, size=batch) if ragged else None
    return x, lengths


def _assert_same(a, b):
    if isinstance(a, tuple):
        for left, right in zip(a, b, strict=True):
            _assert_same(left, right)
    else:
        assert np.array_equal(a, b)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("path", ["auto", "rows", "columns"])
@pytest.mark.parametrize("batch", [1, 3, 9])
def test_frozen_forward_equals_the_module_bit_for_bit(cell, dtype, path, batch, split):
    split(path)
    rng = np.random.default_rng(batch)
    module = CELLS[cell](
        input_size=5,
        hidden_size=70,
        num_layers=2,
        bidirectional=True,
        dtype=dtype,
        random_state=1,
    )
    frozen = module.freeze()
    x, lengths = _inputs(rng, batch, 11, 5, dtype, ragged=batch > 1)
    expected = module.forward(x, lengths, training=False)
    got = frozen.forward(x, lengths, training=False)
    assert got[0].dtype == dtype
    _assert_same(got, expected)


def test_a_large_batch_takes_blas_with_the_same_numbers():
    # more than 256 rows per thread: the row split multiplies by BLAS, frozen or not
    module = nn.GRU(3, 16, random_state=0)
    x = np.random.default_rng(0).standard_normal((600, 4, 3)).astype(np.float32)
    _assert_same(module.freeze()(x, training=False), module(x, training=False))


@pytest.mark.parametrize("frozen_at, run_at", [(1, 2), (2, 1)])
def test_another_thread_count_computes_the_same(frozen_at, run_at):
    module = nn.LSTM(4, 96, random_state=0)
    x = np.random.default_rng(0).standard_normal((2, 9, 4)).astype(np.float32)
    expected = module.forward(x, training=False)
    previous = rnnfast.config_info()["threads"]
    try:
        rnnfast.set_num_threads(frozen_at)
        frozen = module.freeze()
        rnnfast.set_num_threads(run_at)
        got = frozen.forward(x, training=False)
    finally:
        rnnfast.set_num_threads(previous)
    _assert_same(got, expected)


def test_the_copy_is_a_snapshot_and_refuses_changes():
    module = nn.LSTM(3, 8, random_state=0)
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    before = module.forward(x, training=False)
    frozen = module.freeze()
    assert frozen.frozen and not module.frozen
    module.params["weight_hh_l0"] += 1.0  # training the original does not reach the copy
    _assert_same(frozen.forward(x, training=False), before)
    with pytest.raises(ValueError, match="read-only"):
        frozen.params["weight_hh_l0"][0, 0] = 0.0
    with pytest.raises(ValueError, match=r"frozen.*training=False"):
        frozen.forward(x)
    with pytest.raises(ValueError, match="frozen module's weights cannot change"):
        frozen.load_state_dict(module.state_dict())


def test_pickle_keeps_it_frozen_and_save_writes_an_ordinary_module(tmp_path):
    module = nn.GRU(3, 40, bidirectional=True, random_state=0)
    frozen = module.freeze()
    x = np.random.default_rng(0).standard_normal((2, 6, 3)).astype(np.float32)
    expected = module.forward(x, training=False)
    for restored in (pickle.loads(pickle.dumps(frozen)), copy.deepcopy(frozen)):
        assert restored.frozen
        assert not restored.params["weight_hh_l0"].flags.writeable
        _assert_same(restored.forward(x, training=False), expected)
    rnnfast.save(frozen, tmp_path / "gru.rnnfast")
    loaded = rnnfast.load(tmp_path / "gru.rnnfast")
    assert not loaded.frozen
    _assert_same(loaded.forward(x, training=False), expected)


def test_a_frozen_stream_steps_like_the_module():
    module = nn.LSTM(3, 24, random_state=0)
    x = np.random.default_rng(0).standard_normal((1, 5, 3)).astype(np.float32)
    stream = module.freeze().stream()
    steps = np.stack([stream.step(x[:, t]) for t in range(5)], axis=1)
    np.testing.assert_array_equal(steps, module.forward(x, training=False)[0])


def test_packed_weights_are_checked_against_the_layer():
    w_ih = np.zeros((32, 3), np.float32)
    w_hh = np.zeros((32, 8), np.float32)
    with pytest.raises(ValueError, match="w_hh must be"):
        cpu.pack_layer(w_ih, w_hh, gates=3)  # 32 rows are not 3 * 8
    packed = cpu.pack_layer(w_ih, w_hh, gates=4)
    other = nn.LSTM(3, 16, random_state=0)  # gates * H = 64 rows: another shape
    x = np.zeros((2, 1, 3), np.float32)
    weights = other._layer_weights(0, 0)
    h0 = np.zeros((1, 16), np.float32)
    y = np.empty((2, 1, 16), np.float32)
    with pytest.raises(ValueError, match="do not match"):  # reverse, training, y, y_col, ...
        cpu.layer_forward(
            "lstm", x, *weights, h0, h0, None, False, False, y, 0, False, packed=packed
        )
    with pytest.raises(ValueError, match="inference calls only"):
        cpu.layer_forward(
            "lstm", x, *weights, h0, h0, None, False, True, y, 0, False, packed=packed
        )
