"""Every bad argument raises ValueError or TypeError with a message naming it."""

from __future__ import annotations

import numpy as np
import pytest

from rnnfast import nn

from conftest import CELLS, make_module


@pytest.fixture(params=list(CELLS))
def module(request):
    return make_module(request.param, 3, 4, num_layers=2, bidirectional=True, random_state=0)


def x_ok(batch=2, time=5, features=3):
    return np.ones((batch, time, features), np.float32)


@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (np.ones((5, 3)), ValueError, "x must be 3-D"),
        (np.ones((2, 5, 3, 1)), ValueError, "x must be 3-D"),
        (np.ones((2, 5, 4)), ValueError, r"x must have shape \(\*, \*, 3\)"),
        (np.ones((2, 0, 3)), ValueError, "at least one time step"),
        (np.full((2, 5, 3), np.nan), ValueError, "x contains NaN or infinity"),
        (np.full((2, 5, 3), np.inf), ValueError, "x contains NaN or infinity"),
        (np.ones((2, 5, 3), complex), TypeError, "x must hold real numbers"),
        (np.ones((2, 5, 3), bool), TypeError, "x must hold real numbers"),
        (np.array([[["a"] * 3] * 5] * 2), TypeError, "x must hold real numbers"),
    ],
    ids=["2d", "4d", "features", "T0", "nan", "inf", "complex", "bool", "str"],
)
def test_bad_x(module, x, error, match):
    with pytest.raises(error, match=match):
        module.forward(x)


@pytest.mark.parametrize(
    ("lengths", "error", "match"),
    [
        ([5, 6], ValueError, r"lengths must lie in \[1, 5\]"),
        ([0, 5], ValueError, r"lengths must lie in \[1, 5\]"),
        ([-1, 5], ValueError, r"lengths must lie in \[1, 5\]"),
        ([5, 5, 5], ValueError, r"lengths must have shape \(2,\)"),
        ([[5, 5]], ValueError, r"lengths must have shape \(2,\)"),
        ([2.0, 5.0], TypeError, "lengths must be an integer array"),
    ],
    ids=["too-long", "zero", "negative", "wrong-size", "2d", "float"],
)
def test_bad_lengths(module, lengths, error, match):
    with pytest.raises(error, match=match):
        module.forward(x_ok(), lengths=lengths)


def test_bad_hx_shape(module):
    bad = np.zeros((4, 2, 5), np.float32)  # hidden 5 instead of 4
    hx = (bad, bad) if isinstance(module, nn.LSTM) else bad
    with pytest.raises(ValueError, match=r"must have shape \(4, 2, 4\)"):
        module.forward(x_ok(), hx=hx)


def test_bad_hx_batch(module):
    bad = np.zeros((4, 3, 4), np.float32)
    hx = (bad, bad) if isinstance(module, nn.LSTM) else bad
    with pytest.raises(ValueError, match=r"must have shape \(4, 2, 4\)"):
        module.forward(x_ok(), hx=hx)


def test_hx_structure(module):
    h = np.zeros((4, 2, 4), np.float32)
    wrong = h if isinstance(module, nn.LSTM) else (h, h)
    with pytest.raises(TypeError, match="hx must be"):
        module.forward(x_ok(), hx=wrong)


def test_non_finite_hx(module):
    h = np.zeros((4, 2, 4), np.float32)
    h[0, 0, 0] = np.nan
    hx = (h, np.zeros_like(h)) if isinstance(module, nn.LSTM) else h
    with pytest.raises(ValueError, match="NaN or infinity"):
        module.forward(x_ok(), hx=hx)


def test_backward_before_forward(module):
    with pytest.raises(ValueError, match="before forward"):
        module.backward(np.zeros((2, 5, 8), np.float32))


def test_backward_after_only_inference_forwards(module):
    module.forward(x_ok(), training=False)
    with pytest.raises(ValueError, match="training=False"):
        module.backward(np.zeros((2, 5, 8), np.float32))
    with pytest.raises(RuntimeError):  # also catchable as RuntimeError
        module.backward(np.zeros((2, 5, 8), np.float32))


def test_inference_forward_leaves_the_training_forward_to_its_backward(module):
    """An inference forward between a training forward and its backward changes nothing."""
    grad = np.random.default_rng(1).standard_normal((2, 5, 8)).astype(np.float32)
    module.forward(x_ok())
    expected = module.backward(grad)
    module.forward(x_ok())
    module.forward(x_ok(batch=3, time=4), training=False)  # another batch, another shape
    got = module.backward(grad)
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)


def test_backward_after_failed_forward(module):
    module.forward(x_ok())
    with pytest.raises(ValueError):
        module.forward(np.ones((2, 5, 7)))
    with pytest.raises(ValueError, match="before forward"):  # the old cache is gone
        module.backward(np.zeros((2, 5, 8), np.float32))


@pytest.mark.parametrize(
    ("grad", "match"),
    [
        (np.zeros((2, 5, 4), np.float32), r"grad_output must have shape \(2, 5, 8\)"),
        (np.zeros((2, 4, 8), np.float32), r"grad_output must have shape \(2, 5, 8\)"),
        (np.full((2, 5, 8), np.nan, np.float32), "grad_output contains NaN"),
    ],
    ids=["width", "time", "nan"],
)
def test_bad_grad_output(module, grad, match):
    module.forward(x_ok())
    with pytest.raises(ValueError, match=match):
        module.backward(grad)


def test_bad_grad_state(module):
    module.forward(x_ok())
    bad = np.zeros((4, 2, 3), np.float32)
    grad_state = (bad, None) if isinstance(module, nn.LSTM) else bad
    with pytest.raises(ValueError, match=r"grad_state.* must have shape \(4, 2, 4\)"):
        module.backward(np.zeros((2, 5, 8), np.float32), grad_state)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"input_size": 0}, ValueError, "input_size must be a positive integer"),
        ({"hidden_size": 2.5}, ValueError, "hidden_size must be a positive integer"),
        ({"num_layers": 0}, ValueError, "num_layers must be a positive integer"),
        ({"num_layers": True}, ValueError, "num_layers must be a positive integer"),
        ({"bidirectional": "yes"}, TypeError, "bidirectional must be a bool"),
        ({"dtype": np.float16}, TypeError, "dtype must be numpy.float32 or numpy.float64"),
        ({"dtype": np.int32}, TypeError, "dtype must be numpy.float32 or numpy.float64"),
        ({"dtype": "not-a-dtype"}, TypeError, "dtype must be numpy.float32"),
        ({"random_state": "seed"}, TypeError, "random_state must be"),
        ({"random_state": -1}, ValueError, "random_state must be non-negative"),
    ],
    ids=[
        "input0",
        "hidden-float",
        "layers0",
        "layers-bool",
        "bidir",
        "f16",
        "int",
        "str-dtype",
        "rs-str",
        "rs-neg",
    ],
)
@pytest.mark.parametrize("cls", [nn.RNN, nn.LSTM, nn.GRU])
def test_bad_constructor_arguments(cls, kwargs, error, match):
    args = {"input_size": 3, "hidden_size": 4, **kwargs}
    with pytest.raises(error, match=match):
        cls(**args)


def test_bad_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        nn.RNN(3, 4, nonlinearity="sigmoid")


def test_load_state_dict_errors(module):
    state = module.state_dict()
    with pytest.raises(TypeError, match="state_dict must be a mapping"):
        module.load_state_dict([1, 2])
    missing = dict(state)
    del missing["bias_hh_l1_reverse"]
    with pytest.raises(ValueError, match=r"missing \['bias_hh_l1_reverse'\]"):
        module.load_state_dict(missing)
    with pytest.raises(ValueError, match=r"unexpected \['extra'\]"):
        module.load_state_dict({**state, "extra": np.zeros(1)})
    wrong = dict(state)
    wrong["weight_ih_l0"] = np.zeros((1, 1))
    with pytest.raises(ValueError, match=r"state_dict\['weight_ih_l0'\] must have shape"):
        module.load_state_dict(wrong)
    nan = dict(state)
    nan["weight_hh_l0"] = np.full_like(state["weight_hh_l0"], np.nan)
    with pytest.raises(ValueError, match="NaN"):
        module.load_state_dict(nan)
    np.testing.assert_array_equal(module.params["weight_hh_l0"], state["weight_hh_l0"])
