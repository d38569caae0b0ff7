"""Central finite differences in float64: every parameter, the input and the initial states."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CELLS, central_difference, make_module, random_state_like, state_parts

EPS = 1e-6


def scalar_loss(module, x, lengths, hx, weights):
    """L = sum(output * w_out) + sum over state parts of sum(state * w_state)."""
    out, state = module.forward(x, lengths=lengths, hx=hx, training=False)
    total = float((out * weights[0]).sum())
    for s, w in zip(state_parts(state), weights[1:], strict=True):
        total += float((s * w).sum())
    return total


def numeric_gradient(f, array: np.ndarray) -> np.ndarray:
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        grad[index] = central_difference(f, array, index, EPS)
    return grad


@pytest.mark.parametrize("layout", ["L1-uni", "L2-bi"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_finite_differences(cell, layout):
    rng = np.random.default_rng(11)
    num_layers, bidirectional = (1, False) if layout == "L1-uni" else (2, True)
    module = make_module(
        cell,
        2,
        3,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dtype=np.float64,
        random_state=5,
    )
    batch, time = 3, 4
    x = rng.standard_normal((batch, time, 2))
    lengths = np.array([4, 2, 3])
    hx = random_state_like(module, rng, batch)
    weights = [rng.standard_normal((batch, time, 3 * module.num_directions))]
    weights += list(state_parts(random_state_like(module, rng, batch)))
    if cell == "rnn_relu":  # keep pre-activations away from the kink at 0
        for name in module.params:
            module.params[name] *= 0.5
            if name.startswith("bias"):
                module.params[name] += 0.5

    module.forward(x, lengths=lengths, hx=hx)
    grad_state = weights[1] if len(weights) == 2 else tuple(weights[1:])
    grad_x, grad_hx = module.backward(weights[0], grad_state)
    analytic = dict(module.grads)

    def f():
        return scalar_loss(module, x, lengths, hx, weights)

    np.testing.assert_allclose(grad_x, numeric_gradient(f, x), rtol=1e-6, atol=1e-8)
    for ours, state in zip(state_parts(grad_hx), state_parts(hx), strict=True):
        np.testing.assert_allclose(ours, numeric_gradient(f, state), rtol=1e-6, atol=1e-8)
    for name, param in module.params.items():
        np.testing.assert_allclose(
            analytic[name], numeric_gradient(f, param), rtol=1e-6, atol=1e-8, err_msg=name
        )
