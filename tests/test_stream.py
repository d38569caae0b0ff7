"""RecurrentStream (module.stream().step): one time step per call, the state carried.

Stepping must reproduce ``forward`` over the whole sequence exactly (the same kernels in the
same order) and torch's module stepped with its state, for every cell, depth and dtype.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnfast import nn

from conftest import CELLS, make_module, random_state_like, state_parts

TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


def step_through(stream, x):
    """Outputs of stream.step over the time axis of batch-first ``x``, batch-first again."""
    return np.stack([stream.step(x[:, t]) for t in range(x.shape[1])], axis=1)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("batch", [1, 7])
def test_steps_equal_forward_bit_for_bit(cell, layers, dtype, batch, rng):
    module = make_module(cell, 5, 19, num_layers=layers, dtype=dtype, random_state=0)
    x = rng.standard_normal((batch, 23, 5)).astype(dtype)
    hx = random_state_like(module, rng, batch)
    output, h_n = module.forward(x, hx=hx, training=False)
    stream = module.stream(batch_size=batch, hx=hx)
    np.testing.assert_array_equal(step_through(stream, x), output)
    for got, want in zip(state_parts(stream.state), state_parts(h_n), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("batch", [1, 3])
def test_large_layers_share_steps_among_threads_bit_for_bit(cell, batch, rng):
    """Layers of at least 1 MiB of weights split each step's products among threads
    (csrc/core/stream.h); the whole-sequence forward takes its column split at these
    batches. Both must still agree exactly."""
    import rnnfast

    before = rnnfast.config_info()["threads"]
    rnnfast.set_num_threads(2)
    try:
        module = make_module(cell, 40, 300, num_layers=2, random_state=0)
        x = rng.standard_normal((batch, 6, 40)).astype(np.float32)
        output, h_n = module.forward(x, training=False)
        stream = module.stream(batch_size=batch)
        np.testing.assert_array_equal(step_through(stream, x), output)
        for got, want in zip(state_parts(stream.state), state_parts(h_n), strict=True):
            np.testing.assert_array_equal(got, want)
    finally:
        rnnfast.set_num_threads(before)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_steps_match_torch_stepped_with_its_state(cell, dtype, rng):
    module = make_module(cell, 16, 64, num_layers=2, dtype=dtype, random_state=1)
    _, torch_name, extra = CELLS[cell]
    twin = getattr(torch.nn, torch_name)(16, 64, num_layers=2, batch_first=True, **extra)
    twin = twin.to(TORCH_DTYPES[dtype])
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in module.state_dict().items()})
    x = rng.standard_normal((1, 40, 16)).astype(dtype)
    stream, state, theirs = module.stream(), None, []
    with torch.inference_mode():
        for t in range(x.shape[1]):
            out, state = twin(torch.from_numpy(x[:, t : t + 1]), state)
            theirs.append(out[:, 0].numpy())
    tol = {"rtol": 1e-4, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(step_through(stream, x), np.stack(theirs, axis=1), **tol)


def test_one_dimensional_steps_and_casts(rng):
    lstm = nn.LSTM(4, 6, random_state=0)
    x = rng.standard_normal((1, 9, 4))
    want, _ = lstm.forward(x.astype(np.float32), training=False)
    stream = lstm.stream()
    got = [stream.step(x[0, t]) for t in range(9)]  # 1-D float64 rows, cast to float32
    assert got[0].shape == (6,) and got[0].dtype == np.float32
    np.testing.assert_array_equal(np.stack(got), want[0])
    stream.reset()
    np.testing.assert_array_equal(stream.step(x[0, 0].tolist()), want[0, 0])


def test_reset_restarts_and_state_is_a_copy(rng):
    gru = nn.GRU(3, 5, random_state=0)
    x = rng.standard_normal((2, 6, 3)).astype(np.float32)
    stream = gru.stream(batch_size=2)
    first = step_through(stream, x)
    state = stream.state
    state[...] = 99.0  # a copy: the carried state is untouched
    stream.reset()
    np.testing.assert_array_equal(step_through(stream, x), first)
    h0 = rng.standard_normal((1, 2, 5)).astype(np.float32)
    stream.reset(h0)
    np.testing.assert_array_equal(step_through(stream, x), gru.forward(x, hx=h0)[0])


def test_weights_are_copied_when_the_stream_opens(rng):
    rnn = nn.RNN(3, 4, random_state=0)
    x = rng.standard_normal((1, 5, 3)).astype(np.float32)
    want, _ = rnn.forward(x, training=False)
    stream = rnn.stream()
    rnn.params["weight_hh_l0"][...] = 0.0
    np.testing.assert_array_equal(step_through(stream, x), want)
    np.testing.assert_array_equal(step_through(rnn.stream(), x), rnn.forward(x)[0])


@pytest.mark.parametrize(
    "make, call, error, match",
    [
        (lambda: nn.LSTM(3, 4, bidirectional=True).stream(), None, ValueError, "unidirectional"),
        (lambda: nn.LSTM(3, 4).stream(batch_size=0), None, ValueError, "batch_size"),
        (lambda: nn.LSTM(3, 4).stream(batch_size=2.5), None, ValueError, "batch_size"),
        (lambda: nn.LSTM(3, 4).stream(hx=np.zeros((1, 1, 4))), None, TypeError, "tuple"),
        (lambda: nn.GRU(3, 4).stream(hx=np.zeros((1, 2, 4))), None, ValueError, "hx"),
        (lambda: nn.GRU(3, 4).stream(), np.zeros((1, 5), np.float32), ValueError, r"shape"),
        (lambda: nn.GRU(3, 4).stream(), np.zeros((2, 3), np.float32), ValueError, r"shape"),
        (lambda: nn.GRU(3, 4).stream(), np.zeros((1, 1, 3)), ValueError, "2-D"),
        (
            lambda: nn.GRU(3, 4).stream(),
            np.full((1, 3), np.nan, np.float32),
            ValueError,
            "NaN or inf",
        ),
        (lambda: nn.GRU(3, 4).stream(), np.array([[1.0, np.inf, 0.0]]), ValueError, "NaN or inf"),
        (lambda: nn.GRU(3, 4).stream(), np.array([["a", "b", "c"]]), TypeError, "real numbers"),
        (lambda: nn.GRU(3, 4).stream(batch_size=2), np.zeros(3), ValueError, "2-D"),
    ],
)
def test_bad_arguments_raise_clear_errors(make, call, error, match):
    with pytest.raises(error, match=match):
        stream = make()
        stream.step(call)


def test_a_refused_step_leaves_the_state_alone(rng):
    stream = nn.LSTM(3, 4, random_state=0).stream()
    stream.step(rng.standard_normal((1, 3)).astype(np.float32))
    before = stream.state
    with pytest.raises(ValueError, match="NaN or infinity"):
        stream.step(np.array([[0.0, np.nan, 0.0]], np.float32))
    for got, want in zip(stream.state, before, strict=True):
        np.testing.assert_array_equal(got, want)
