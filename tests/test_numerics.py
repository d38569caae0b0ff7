"""Numerical safety: saturating activations, divergence reports that name the step, and the
stated float32-vs-float64 drift bound on long sequences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnfast
from rnnfast import nn
from rnnfast.interop import to_torch
from rnnfast.optim import Adam

# Stated bounds (docs/reliability.md): float32 against float64 on 10,000 steps
OUTPUT_DRIFT = 1e-5  # max absolute difference of the outputs (measured: 5.8e-7)
GRADIENT_DRIFT = 1e-4  # max difference of each parameter gradient / its largest entry (5.5e-6)
TRAINING_DRIFT = 1e-5  # max parameter difference after 20 Adam steps on 5,000 steps (5.3e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("scale", [1e-30, 1e4, 1e12, 1e30])
def test_saturating_cells_stay_finite_and_match_torch(cell, dtype, scale):
    """Pre-activations far outside the float exponent range of exp(): sigmoid and tanh must
    saturate to 0/1/-1 (no inf/inf = NaN) exactly as torch's do."""
    rng = np.random.default_rng(0)
    module = nn.make_recurrent(cell, 3, 8, dtype=dtype, random_state=0)
    x = (rng.standard_normal((2, 6, 3)) * scale).astype(dtype)
    out, _ = module.forward(x, training=False)
    assert np.isfinite(out).all()
    assert np.abs(out).max() <= 1
    expected, _ = to_torch(module)(torch.from_numpy(x))
    np.testing.assert_allclose(out, expected.detach().numpy(), rtol=2e-5, atol=2e-6)


ACTIVATION_REL_ERROR = 4e-7  # float32 sigmoid and tanh (csrc/core/activations.h: 3.4e-7 at most)


def _activation_through_a_cell(cell: str, x: np.ndarray) -> np.ndarray:
    """A float32 cell's own activation of every value of ``x`` (1-D, 64 values to a row),
    computed by its vectorised gate loop in one step: an RNN whose input weights are the
    identity and recurrent ones zero gives tanh(x); a GRU whose update-gate weights are the
    identity, started from ones with every other weight zero, gives its update gate, sigmoid(x)
    (h' = (1 - z) * tanh(0) + z * 1)."""
    units = 64
    module = nn.make_recurrent(cell, units, units, dtype=np.float32, random_state=0)
    weights = {name: np.zeros_like(value) for name, value in module.state_dict().items()}
    update_gate = slice(units, 2 * units) if cell == "gru" else slice(0, units)
    weights["weight_ih_l0"][update_gate] = np.eye(units, dtype=np.float32)
    module.load_state_dict(weights)
    rows = x.reshape(-1, 1, units)
    hx = np.ones((1, len(rows), units), np.float32) if cell == "gru" else None
    out, _ = module.forward(rows, hx=hx, training=False)
    return out.reshape(-1)


def test_float32_tanh_is_accurate_odd_and_bounded():
    x = np.concatenate([np.linspace(-12, 12, 64 * 4000), np.geomspace(1e-30, 10, 64 * 500)])
    x = np.concatenate([x, -x]).astype(np.float32)
    y = _activation_through_a_cell("rnn", x)
    exact = np.tanh(x.astype(np.float64))
    assert np.max(np.abs(y - exact) / np.abs(exact)) < ACTIVATION_REL_ERROR
    assert np.abs(y).max() <= 1
    half = len(x) // 2
    np.testing.assert_array_equal(y[half:], -y[:half])
    # past 9.0109 float32's tanh is 1: exactly, so a saturated gate's derivative is 0 (torch's)
    saturated = np.repeat(np.float32([9.02, 10, 50, 1e4, 1e30, -9.02, -1e30]), 64)
    np.testing.assert_array_equal(_activation_through_a_cell("rnn", saturated), np.sign(saturated))


def test_float32_sigmoid_keeps_its_relative_accuracy_down_to_tiny_values():
    x = np.linspace(-85, 20, 64 * 4000).astype(np.float32)
    y = _activation_through_a_cell("gru", x)
    exact = 1 / (1 + np.exp(-x.astype(np.float64)))
    assert np.max(np.abs(y - exact) / exact) < ACTIVATION_REL_ERROR
    assert y.min() > 0 and y.max() <= 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_through_saturated_gates_is_finite(dtype):
    rng = np.random.default_rng(1)
    module = nn.LSTM(3, 8, dtype=dtype, random_state=0)
    x = (rng.standard_normal((2, 6, 3)) * 1e30).astype(dtype)
    out, _ = module.forward(x)
    grad_x, _ = module.backward(np.ones_like(out))
    assert np.isfinite(grad_x).all()
    assert all(np.isfinite(g).all() for g in module.grads.values())


def test_divergence_names_epoch_batch_and_optimizer_step():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 5, 2)).astype(np.float32) * 1e3
    y = rng.normal(size=16) * 1e30
    est = rnnfast.RNNRegressor(
        cell="rnn_relu",
        learning_rate=1e30,
        clip_norm=None,
        batch_size=4,
        max_epochs=5,
        random_state=0,
    )
    with pytest.raises(
        rnnfast.TrainingDivergedError, match=r"at optimizer step \d+ \(epoch \d+, batch \d+\)"
    ):
        est.fit(X, y)


def test_divergence_under_truncated_bptt_names_the_time_window():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4, 40, 2)).astype(np.float32) * 1e3
    y = (rng.normal(size=(4, 40)) > 0).astype(int)
    est = rnnfast.SequenceTagger(
        cell="rnn_relu",
        bidirectional=False,
        bptt_steps=10,
        learning_rate=1e30,
        clip_norm=None,
        max_epochs=5,
        random_state=0,
    )
    with pytest.raises(rnnfast.TrainingDivergedError, match=r"time steps \d+-\d+\)"):
        est.fit(X, y)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_float32_drift_from_float64_over_10k_steps(cell):
    rng = np.random.default_rng(0)
    modules = {
        dtype: nn.make_recurrent(
            cell, 4, 32, dtype=dtype, random_state=0, init="orthogonal", forget_bias=1.0
        )
        for dtype in (np.float32, np.float64)
    }
    modules[np.float32].load_state_dict(modules[np.float64].state_dict())
    x = rng.normal(size=(2, 10_000, 4))
    grad_out = rng.normal(size=(2, 10_000, 32))
    results = {}
    for dtype, module in modules.items():
        out, _ = module.forward(x.astype(dtype))
        module.backward(grad_out.astype(dtype))
        results[dtype] = out
    assert np.abs(results[np.float32] - results[np.float64]).max() < OUTPUT_DRIFT
    for name, exact in modules[np.float64].grads.items():
        drift = np.abs(modules[np.float32].grads[name] - exact).max() / np.abs(exact).max()
        assert drift < GRADIENT_DRIFT, name


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_float32_training_drift_from_float64(cell):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 5000, 3))
    y = rng.normal(size=(4, 1))
    nets = {
        dtype: nn.SequenceNetwork(cell, 3, 16, 1, dtype=dtype, random_state=0)
        for dtype in (np.float32, np.float64)
    }
    for name, value in nets[np.float64].params.items():
        nets[np.float32].params[name][...] = value
    for dtype, net in nets.items():
        optimizer = Adam(net.params, 1e-3)
        for _ in range(20):
            out = net.forward(x.astype(dtype))
            net.backward((2 * (out - y) / len(y)).astype(dtype))
            optimizer.step(net.grads)
    drift = max(
        np.abs(nets[np.float32].params[k] - v).max() for k, v in nets[np.float64].params.items()
    )
    assert drift < TRAINING_DRIFT
