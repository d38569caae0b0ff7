"""rnnfast.nn against torch.nn with identical weights: outputs, states and every gradient."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from conftest import CELLS, make_module, random_state_like, state_parts

TOLERANCES = {np.float32: {"rtol": 1e-4, "atol": 1e-5}, np.float64: {"rtol": 1e-9, "atol": 1e-9}}
TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


def torch_twin(module, cell: str, dtype):
    _, torch_name, extra = CELLS[cell]
    twin = getattr(torch.nn, torch_name)(
        module.input_size,
        module.hidden_size,
        num_layers=module.num_layers,
        bidirectional=module.bidirectional,
        batch_first=True,
        **extra,
    ).to(TORCH_DTYPES[dtype])
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in module.state_dict().items()})
    return twin


def run_torch(twin, x, lengths, hx, grad_out, grad_state):
    """Forward and backward in torch; returns outputs, states and all gradients as numpy."""
    x_t = torch.from_numpy(x).requires_grad_(True)
    hx_t = tuple(torch.from_numpy(h).requires_grad_(True) for h in state_parts(hx))
    time = x.shape[1]
    if lengths is None:
        out, state = twin(x_t, hx_t if len(hx_t) == 2 else hx_t[0])
    else:
        packed = pack_padded_sequence(
            x_t, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False
        )
        out_packed, state = twin(packed, hx_t if len(hx_t) == 2 else hx_t[0])
        out, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=time)
    states = state if isinstance(state, tuple) else (state,)
    loss = (out * torch.from_numpy(grad_out)).sum()
    for s, g in zip(states, state_parts(grad_state), strict=True):
        loss = loss + (s * torch.from_numpy(g)).sum()
    loss.backward()
    return {
        "output": out.detach().numpy(),
        "state": [s.detach().numpy() for s in states],
        "grad_input": x_t.grad.numpy(),
        "grad_hx": [h.grad.numpy() for h in hx_t],
        "grads": {k: p.grad.numpy() for k, p in twin.named_parameters()},
    }


def assert_matches_torch(module, twin, x, lengths, hx, grad_out, grad_state, tol, grad_tol=None):
    """Run both sides with the same data; compare outputs, states and every gradient."""
    out, state = module.forward(x, lengths=lengths, hx=hx)
    grad_input, grad_hx = module.backward(grad_out, grad_state)
    expected = run_torch(twin, x, lengths, hx, grad_out, grad_state)
    np.testing.assert_allclose(out, expected["output"], **tol)
    for ours, theirs in zip(state_parts(state), expected["state"], strict=True):
        np.testing.assert_allclose(ours, theirs, **tol)
    np.testing.assert_allclose(grad_input, expected["grad_input"], **tol)
    for ours, theirs in zip(state_parts(grad_hx), expected["grad_hx"], strict=True):
        np.testing.assert_allclose(ours, theirs, **tol)
    assert module.grads.keys() == expected["grads"].keys()
    for name, grad in expected["grads"].items():
        np.testing.assert_allclose(module.grads[name], grad, err_msg=name, **(grad_tol or tol))
    return out, grad_input


@pytest.mark.parametrize("seq_len", [1, 7], ids=lambda t: f"T{t}")
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3], ids=lambda n: f"L{n}")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_matches_torch(cell, dtype, num_layers, bidirectional, ragged, seq_len):
    rng = np.random.default_rng(7)
    batch, input_size, hidden = 4, 5, 6
    module = make_module(
        cell,
        input_size,
        hidden,
        num_layers=num_layers,
        bidirectional=bidirectional,
        dtype=dtype,
        random_state=3,
    )
    twin = torch_twin(module, cell, dtype)
    x = rng.standard_normal((batch, seq_len, input_size)).astype(dtype)
    lengths = rng.integers(1, seq_len + 1, size=batch) if ragged else None
    if ragged and seq_len > 1:  # one full-length and one length-1 sample, out of order
        lengths[1], lengths[2] = seq_len, 1
    hx = random_state_like(module, rng, batch)
    width = module.num_directions * hidden
    grad_out = rng.standard_normal((batch, seq_len, width)).astype(dtype)
    grad_state = random_state_like(module, rng, batch)

    out, grad_input = assert_matches_torch(
        module, twin, x, lengths, hx, grad_out, grad_state, TOLERANCES[dtype]
    )
    if lengths is not None:  # outputs and input gradients past each length are exactly zero
        for b, n in enumerate(lengths):
            assert not out[b, n:].any() and not grad_input[b, n:].any()


@pytest.mark.parametrize("cell", list(CELLS))
def test_inference_matches_training_forward_and_torch_without_hx(cell, rng):
    module = make_module(cell, 3, 8, num_layers=2, bidirectional=True, random_state=0)
    x = rng.standard_normal((5, 9, 3)).astype(np.float32)
    lengths = np.array([9, 1, 4, 9, 6])
    out_train, state_train = module.forward(x, lengths)
    out_infer, state_infer = module.forward(x, lengths, training=False)
    np.testing.assert_array_equal(out_train, out_infer)
    for a, b in zip(state_parts(state_train), state_parts(state_infer), strict=True):
        np.testing.assert_array_equal(a, b)
    twin = torch_twin(module, cell, np.float32)
    packed = pack_padded_sequence(torch.from_numpy(x), torch.from_numpy(lengths), True, False)
    with torch.no_grad():
        expected, _ = pad_packed_sequence(twin(packed)[0], batch_first=True, total_length=9)
    np.testing.assert_allclose(out_infer, expected.numpy(), **TOLERANCES[np.float32])


@pytest.mark.parametrize("batch", [64, 160], ids=["packed-step", "blas-step"])
@pytest.mark.parametrize("cell", list(CELLS))
def test_larger_float32_shapes_match_torch(cell, batch, rng):
    """Shapes that take the threaded paths: batch slices, split GEMMs, and both per-step
    products (packed kernel for <= 64 rows per thread, BLAS above)."""
    module = make_module(cell, 48, 96, num_layers=2, bidirectional=True, random_state=1)
    twin = torch_twin(module, cell, np.float32)
    x = rng.standard_normal((batch, 30, 48)).astype(np.float32)
    lengths = rng.integers(1, 31, size=batch)
    hx = random_state_like(module, rng, batch)
    grad_out = rng.standard_normal((batch, 30, 192)).astype(np.float32)
    grad_state = random_state_like(module, rng, batch)
    # Weight gradients sum over 30 * batch steps: float32 rounding grows with the sum.
    assert_matches_torch(
        module,
        twin,
        x,
        lengths,
        hx,
        grad_out,
        grad_state,
        tol={"rtol": 1e-4, "atol": 2e-5},
        grad_tol={"rtol": 1e-4, "atol": 1e-4},
    )
