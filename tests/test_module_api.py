"""Behaviour of the nn modules beyond numerics: weights, caching, dtypes, layouts."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from rnnfast import nn

from conftest import CELLS, make_module, state_parts


@pytest.mark.parametrize("cell", list(CELLS))
def test_state_dict_has_torch_names_shapes_and_order(cell):
    _, torch_name, extra = CELLS[cell]
    ours = make_module(cell, 3, 5, num_layers=3, bidirectional=True, random_state=0)
    theirs = getattr(torch.nn, torch_name)(3, 5, num_layers=3, bidirectional=True, **extra)
    expected = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    got = {k: v.shape for k, v in ours.state_dict().items()}
    assert list(got) == list(expected)
    assert got == expected


@pytest.mark.parametrize("cell", list(CELLS))
def test_load_from_torch_state_dict(cell, rng):
    _, torch_name, extra = CELLS[cell]
    theirs = getattr(torch.nn, torch_name)(3, 5, num_layers=2, batch_first=True, **extra)
    ours = make_module(cell, 3, 5, num_layers=2)
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    x = rng.standard_normal((2, 4, 3)).astype(np.float32)
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x))[0].numpy()
    np.testing.assert_allclose(ours.forward(x)[0], expected, rtol=1e-5, atol=1e-6)


def test_initialisation_is_reproducible_and_in_torch_range():
    a, b = nn.LSTM(3, 16, random_state=42), nn.LSTM(3, 16, random_state=42)
    c = nn.LSTM(3, 16, random_state=43)
    for name in a.params:
        np.testing.assert_array_equal(a.params[name], b.params[name])
        assert np.abs(a.params[name]).max() <= 1 / np.sqrt(16)
    assert not np.array_equal(a.params["weight_hh_l0"], c.params["weight_hh_l0"])
    assert a.params["weight_hh_l0"].dtype == np.float32


def test_state_dict_returns_copies():
    module = nn.GRU(2, 3)
    state = module.state_dict()
    state["weight_ih_l0"][...] = 0
    assert module.params["weight_ih_l0"].any()


@pytest.mark.parametrize("cell", list(CELLS))
def test_input_layouts_and_dtypes_give_the_same_result(cell, rng):
    module = make_module(cell, 3, 4, bidirectional=True, random_state=0)
    x = rng.standard_normal((3, 6, 3)).astype(np.float32)
    reference = module.forward(x, training=False)[0]
    fortran = np.asfortranarray(x)
    strided = np.ascontiguousarray(x[:, ::-1])[:, ::-1]  # negative-stride view of the same data
    read_only = x.copy()
    read_only.setflags(write=False)
    for variant in (fortran, strided, read_only, x.astype(np.float64), x.tolist()):
        np.testing.assert_array_equal(module.forward(variant, training=False)[0], reference)
    integers = np.arange(3 * 6 * 3).reshape(3, 6, 3) % 5
    np.testing.assert_array_equal(
        module.forward(integers, training=False)[0],
        module.forward(integers.astype(np.float32), training=False)[0],
    )


@pytest.mark.parametrize("cell", list(CELLS))
def test_empty_batch(cell):
    module = make_module(cell, 3, 4, num_layers=2, bidirectional=True)
    out, state = module.forward(np.zeros((0, 5, 3)), lengths=np.zeros(0, int))
    assert out.shape == (0, 5, 8)
    assert all(s.shape == (4, 0, 4) for s in state_parts(state))
    grad_input, grad_h0 = module.backward(np.zeros((0, 5, 8)))
    assert all(g.shape == (4, 0, 4) for g in state_parts(grad_h0))
    assert grad_input.shape == (0, 5, 3)
    assert all(not g.any() for g in module.grads.values())


@pytest.mark.parametrize("cell", list(CELLS))
def test_repeated_backward_is_identical_and_not_accumulated(cell, rng):
    module = make_module(cell, 3, 4, random_state=0)
    module.forward(rng.standard_normal((2, 5, 3)))
    grad = rng.standard_normal((2, 5, 4))
    first_input, _ = module.backward(grad)
    first = {k: v.copy() for k, v in module.grads.items()}
    second_input, _ = module.backward(grad)
    np.testing.assert_array_equal(first_input, second_input)
    for name, value in first.items():
        np.testing.assert_array_equal(module.grads[name], value)


def test_load_state_dict_drops_the_forward_cache(rng):
    module = nn.LSTM(3, 4)
    module.forward(rng.standard_normal((2, 5, 3)))
    module.load_state_dict(module.state_dict())
    with pytest.raises(ValueError, match="before forward"):
        module.backward(np.zeros((2, 5, 4)))


def test_lstm_grad_state_parts_may_be_none(rng):
    module = nn.LSTM(3, 4, dtype=np.float64, random_state=0)
    x = rng.standard_normal((2, 5, 3))
    dc = rng.standard_normal((1, 2, 4))
    module.forward(x)
    only_c, _ = module.backward(np.zeros((2, 5, 4)), (None, dc))
    both, _ = module.backward(np.zeros((2, 5, 4)), (np.zeros((1, 2, 4)), dc))
    np.testing.assert_array_equal(only_c, both)
    assert only_c.any()


def test_pickle_round_trip(rng):
    module = nn.GRU(3, 4, num_layers=2, bidirectional=True, random_state=0)
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    clone = pickle.loads(pickle.dumps(module))
    np.testing.assert_array_equal(clone.forward(x)[0], module.forward(x)[0])


def test_repr():
    assert repr(nn.RNN(3, 4, nonlinearity="relu")) == (
        "RNN(3, 4, num_layers=1, nonlinearity='relu', bidirectional=False, dtype=float32)"
    )
    assert repr(nn.LSTM(3, 4, 2, True, np.float64)) == (
        "LSTM(3, 4, num_layers=2, bidirectional=True, dtype=float64)"
    )
