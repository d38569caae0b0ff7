"""The estimators' network (recurrent stack, dropout, linear head) against torch and finite
differences, and the initialisers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnfast import nn
from rnnfast.nn.init import initialize_recurrent
from rnnfast.nn.losses import cross_entropy, squared_error

from conftest import central_difference

TORCH = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}


def torch_twin(net: nn.SequenceNetwork, cell: str):
    rec = net.recurrent
    module = TORCH[cell](
        rec.input_size,
        rec.hidden_size,
        num_layers=rec.num_layers,
        bidirectional=rec.bidirectional,
        batch_first=True,
        dtype=torch.float64,
    )
    module.load_state_dict({k: torch.from_numpy(v) for k, v in rec.params.items()})
    head = torch.nn.Linear(net.head.in_features, net.head.out_features, dtype=torch.float64)
    head.load_state_dict({k: torch.from_numpy(v) for k, v in net.head.params.items()})
    return module, head


def torch_outputs(module, head, x, lengths, per_step):
    xt = torch.from_numpy(x).requires_grad_(True)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        xt, torch.from_numpy(lengths), batch_first=True, enforce_sorted=False
    )
    out, state = module(packed)
    if per_step:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(
            out, batch_first=True, total_length=x.shape[1]
        )
        return xt, head(out)
    h_n = state[0] if isinstance(state, tuple) else state
    dirs = 2 if module.bidirectional else 1
    return xt, head(torch.cat(list(h_n[-dirs:]), dim=1))


@pytest.mark.parametrize("per_step", [False, True], ids=["per_sequence", "per_step"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_network_gradients_match_torch(cell, bidirectional, per_step):
    rng = np.random.default_rng(3)
    net = nn.SequenceNetwork(
        cell,
        3,
        5,
        4,
        num_layers=2,
        bidirectional=bidirectional,
        per_step=per_step,
        dtype=np.float64,
        random_state=0,
    )
    module, head = torch_twin(net, cell)
    x = rng.standard_normal((6, 7, 3))
    lengths = np.array([7, 3, 5, 1, 7, 2])
    weights = rng.standard_normal((6, 7, 4) if per_step else (6, 4))
    if per_step:
        weights *= (np.arange(7)[None, :] < lengths[:, None])[:, :, None]  # padding has no loss

    ours = net.forward(x, lengths)
    grad_x = net.backward(weights)
    xt, theirs = torch_outputs(module, head, x, lengths, per_step)
    (theirs * torch.from_numpy(weights)).sum().backward()

    if per_step:
        valid = np.arange(7)[None, :] < lengths[:, None]
        np.testing.assert_allclose(
            ours[valid], theirs.detach().numpy()[valid], rtol=1e-9, atol=1e-12
        )
    else:
        np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grad_x, xt.grad.numpy(), rtol=1e-8, atol=1e-11)
    for name, param in module.named_parameters():
        np.testing.assert_allclose(
            net.grads[f"recurrent.{name}"], param.grad.numpy(), rtol=1e-8, atol=1e-11, err_msg=name
        )
    for name, param in head.named_parameters():
        np.testing.assert_allclose(
            net.grads[f"head.{name}"], param.grad.numpy(), rtol=1e-8, atol=1e-11, err_msg=name
        )


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_dropout_gradients_by_finite_differences(cell):
    """With the mask stream fixed, the dropped-out network's gradient is exact."""
    rng = np.random.default_rng(0)
    gen = np.random.default_rng(5)
    net = nn.SequenceNetwork(
        cell, 2, 4, 3, num_layers=2, dropout=0.4, dtype=np.float64, random_state=gen
    )
    x = rng.standard_normal((3, 5, 2))
    weights = rng.standard_normal((3, 3))
    saved = gen.bit_generator.state

    def loss(params_override=None):
        gen.bit_generator.state = saved
        return float((net.forward(x) * weights).sum())

    loss()
    net.backward(weights)
    analytic = {k: v.copy() for k, v in net.grads.items()}
    for name in ["recurrent.weight_ih_l1", "recurrent.weight_hh_l0", "head.weight"]:
        for index in [(0, 0), (1, 1), (2, 0)]:
            numeric = central_difference(loss, net.params[name], index)
            assert analytic[name][index] == pytest.approx(numeric, rel=1e-5, abs=1e-8), name


def test_dropout_only_in_training_and_scaled():
    net = nn.SequenceNetwork("lstm", 2, 8, 2, num_layers=2, dropout=0.5, random_state=0)
    x = np.ones((4, 3, 2), np.float32)
    inference = net.forward(x, training=False)
    np.testing.assert_array_equal(inference, net.forward(x, training=False))
    assert not np.allclose(net.forward(x, training=True), inference)
    mask = nn.dropout.dropout_mask(np.random.default_rng(0), (100_000,), 0.25, np.dtype(np.float32))
    assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.75)}
    assert mask.mean() == pytest.approx(1.0, abs=0.01)  # expectation preserved


def test_orthogonal_and_xavier_init_and_forget_bias():
    rng = np.random.default_rng(0)
    lstm = nn.LSTM(6, 5, num_layers=2, bidirectional=True, dtype=np.float64)
    initialize_recurrent(lstm, "orthogonal", 1.0, rng)
    w_hh = lstm.params["weight_hh_l1_reverse"]
    for g in range(4):
        block = w_hh[g * 5 : (g + 1) * 5]
        np.testing.assert_allclose(block @ block.T, np.eye(5), atol=1e-12)
    bound = np.sqrt(6 / (6 + 5))
    assert np.abs(lstm.params["weight_ih_l0"]).max() <= bound
    np.testing.assert_array_equal(lstm.params["bias_ih_l0"][5:10], 1.0)
    np.testing.assert_array_equal(np.delete(lstm.params["bias_ih_l0"], np.s_[5:10]), 0.0)
    np.testing.assert_array_equal(lstm.params["bias_hh_l0"], 0.0)

    gru = nn.GRU(3, 4, dtype=np.float64)
    initialize_recurrent(gru, "xavier", 1.0, rng)  # no forget gate: biases stay zero
    assert np.abs(gru.params["weight_hh_l0"]).max() <= np.sqrt(6 / 8)
    np.testing.assert_array_equal(gru.params["bias_ih_l0"], 0.0)

    before = {k: v.copy() for k, v in gru.params.items()}
    initialize_recurrent(gru, "torch", None, rng)
    for k in before:
        np.testing.assert_array_equal(gru.params[k], before[k])
    with pytest.raises(ValueError, match="init must be one of"):
        initialize_recurrent(gru, "he", None, rng)


def test_losses_match_torch():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((7, 4))
    target = rng.integers(0, 4, 7)
    w = rng.uniform(0.1, 2, 7)
    loss, grad = cross_entropy(logits, target, w)
    lt = torch.from_numpy(logits).requires_grad_(True)
    per_row = torch.nn.functional.cross_entropy(lt, torch.from_numpy(target), reduction="none")
    expected = (per_row * torch.from_numpy(w)).sum() / w.sum()
    expected.backward()
    assert loss == pytest.approx(expected.item(), rel=1e-12)
    np.testing.assert_allclose(grad, lt.grad.numpy(), rtol=1e-10)

    pred, tgt = rng.standard_normal((5, 3)), rng.standard_normal((5, 3))
    loss, grad = squared_error(pred, tgt)
    pt = torch.from_numpy(pred).requires_grad_(True)
    mse = torch.nn.functional.mse_loss(pt, torch.from_numpy(tgt))
    mse.backward()
    assert loss == pytest.approx(mse.item(), rel=1e-12)
    np.testing.assert_allclose(grad, pt.grad.numpy(), rtol=1e-10)


def test_linear_matches_torch_layout():
    lin = nn.Linear(3, 2, dtype=np.float64, random_state=0)
    ref = torch.nn.Linear(3, 2, dtype=torch.float64)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in lin.params.items()})
    x = np.random.default_rng(0).standard_normal((4, 5, 3))
    np.testing.assert_allclose(
        lin.forward(x), ref(torch.from_numpy(x)).detach().numpy(), rtol=1e-12
    )
    assert np.abs(lin.params["weight"]).max() <= 1 / np.sqrt(3)
    with pytest.raises(RuntimeError, match="forward"):
        nn.Linear(3, 2).backward(np.ones((1, 2)))


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_autoencoder_gradients_by_finite_differences(cell):
    rng = np.random.default_rng(1)
    net = nn.SequenceAutoencoder(
        cell, 2, 3, num_layers=2, bidirectional=True, dtype=np.float64, random_state=0
    )
    x = rng.standard_normal((3, 6, 2))
    lengths = np.array([6, 2, 4])
    weights = rng.standard_normal((3, 6, 2)) * (np.arange(6)[None, :] < lengths[:, None])[..., None]
    out = net.forward(x, lengths)
    assert out.shape == x.shape
    grad_x = net.backward(weights)

    def loss():
        return float((net.forward(x, lengths, training=False) * weights).sum())

    checks = [
        (net.params, name, (0, 1))
        for name in [
            "encoder.weight_ih_l0",
            "encoder.weight_hh_l1_reverse",
            "decoder.recurrent.weight_hh_l0",
            "decoder.head.weight",
        ]
    ]
    checks += [(net.params, "encoder.bias_hh_l0", (2,))]
    for params, name, index in checks:
        numeric = central_difference(loss, params[name], index)
        assert net.grads[name][index] == pytest.approx(numeric, rel=1e-5, abs=1e-9), name
    for index in [(0, 0, 0), (1, 1, 1), (2, 3, 0)]:
        numeric = central_difference(loss, x, index)
        assert grad_x[index] == pytest.approx(numeric, rel=1e-5, abs=1e-9)
