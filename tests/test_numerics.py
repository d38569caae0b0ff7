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
OUTPUT_DRIFT = 1e-5  # max absolute difference of the outputs (measured: 6.1e-7)
GRADIENT_DRIFT = 1e-4  # max difference of each parameter gradient / its largest entry (5.2e-6)
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
