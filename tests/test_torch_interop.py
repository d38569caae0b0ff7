"""rnnfast.interop.to_torch / from_torch: the same model in torch, outputs and every gradient
equal, and back again bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import rnnfast
from rnnfast import nn
from rnnfast.interop import from_torch, to_torch

from conftest import ARCHITECTURES, architecture_id, network_for

RNG = np.random.default_rng(0)
LENGTHS = np.array([6, 2, 5, 1])


def torch_forward_backward(module, x, lengths, grad_output):
    """Outputs, input gradient and parameter gradients of a TorchSequenceNetwork."""
    xt = torch.from_numpy(x).requires_grad_(True)
    out = module(xt, None if lengths is None else torch.from_numpy(lengths))
    (out * torch.from_numpy(grad_output)).sum().backward()
    grads = {name: p.grad.numpy() for name, p in module.named_parameters()}
    return out.detach().numpy(), xt.grad.numpy(), grads


@pytest.mark.parametrize("case", ARCHITECTURES, ids=architecture_id)
@pytest.mark.parametrize("per_step", [False, True], ids=["per_sequence", "per_step"])
def test_network_outputs_and_gradients_match_torch(case, per_step):
    with_lengths = case[3]
    net = network_for(case, per_step, dtype=np.float64)
    x = RNG.standard_normal((4, 6, 3))
    lengths = LENGTHS if with_lengths else None
    out = net.forward(x, lengths, training=True)
    grad_output = RNG.standard_normal(out.shape)
    if with_lengths and per_step:  # padding steps are not outputs of the sequence
        grad_output *= np.arange(6)[None, :, None] < LENGTHS[:, None, None]
    grad_x = net.backward(grad_output)

    module = to_torch(net).eval()  # eval: no dropout (rnnfast's training forward had none)
    t_out, t_grad_x, t_grads = torch_forward_backward(module, x, lengths, grad_output)
    np.testing.assert_allclose(t_out, out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(t_grad_x, grad_x, rtol=1e-9, atol=1e-12)
    assert set(t_grads) == set(net.grads)
    for name, grad in net.grads.items():
        np.testing.assert_allclose(t_grads[name], grad, rtol=1e-9, atol=1e-12, err_msg=name)

    back = from_torch(module)
    for name, value in net.params.items():
        assert back.params[name].dtype == value.dtype
        assert np.array_equal(back.params[name], value), name
    assert np.array_equal(
        back.forward(x, lengths, training=False), net.forward(x, lengths, training=False)
    )
    assert back.per_step == per_step


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn", "rnn_relu"])
def test_recurrent_stack_roundtrip(cell, dtype):
    stack = nn.make_recurrent(
        cell, 3, 4, num_layers=2, bidirectional=True, dtype=dtype, random_state=0
    )
    module = to_torch(stack)
    assert isinstance(module, torch.nn.RNNBase) and module.batch_first
    assert module.weight_ih_l0.dtype == (torch.float64 if dtype == np.float64 else torch.float32)
    x = RNG.standard_normal((2, 5, 3)).astype(dtype)
    out, _ = stack.forward(x, training=False)
    t_out, _ = module(torch.from_numpy(x))
    np.testing.assert_allclose(
        t_out.detach().numpy(), out, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6
    )
    back = from_torch(module)
    assert type(back) is type(stack)
    assert getattr(back, "nonlinearity", None) == getattr(stack, "nonlinearity", None)
    assert all(np.array_equal(back.params[k], v) for k, v in stack.params.items())


def test_from_plain_torch_modules():
    lstm = torch.nn.LSTM(3, 4, num_layers=2, batch_first=True, dropout=0.25)
    stack = from_torch(lstm)
    assert isinstance(stack, nn.LSTM) and stack.dropout == 0.25
    x = RNG.standard_normal((2, 5, 3)).astype(np.float32)
    expected, _ = lstm.eval()(torch.from_numpy(x))
    np.testing.assert_allclose(
        stack.forward(x, training=False)[0], expected.detach().numpy(), rtol=1e-5, atol=1e-6
    )
    linear = torch.nn.Linear(3, 2, dtype=torch.float64)
    ours = from_torch(linear)
    assert np.array_equal(ours.params["weight"], linear.weight.detach().numpy())
    assert np.array_equal(to_torch(ours).bias.detach().numpy(), ours.params["bias"])


def test_autoencoder_roundtrip():
    auto = nn.SequenceAutoencoder("gru", 3, 4, bidirectional=True, dtype=np.float64, random_state=0)
    x = RNG.standard_normal((4, 6, 3))
    out = auto.forward(x, LENGTHS, training=True)
    grad_output = RNG.standard_normal(out.shape) * (
        np.arange(6)[None, :, None] < LENGTHS[:, None, None]
    )
    grad_x = auto.backward(grad_output)
    module = to_torch(auto).eval()
    t_out, t_grad_x, t_grads = torch_forward_backward(module, x, LENGTHS, grad_output)
    np.testing.assert_allclose(t_out, out, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(t_grad_x, grad_x, rtol=1e-9, atol=1e-12)
    for name, grad in auto.grads.items():
        np.testing.assert_allclose(t_grads[name], grad, rtol=1e-9, atol=1e-12, err_msg=name)
    back = from_torch(module)
    assert np.array_equal(
        back.forward(x, LENGTHS, training=False), auto.forward(x, LENGTHS, training=False)
    )


X = RNG.standard_normal((30, 7, 2)).astype(np.float32)
FAST = dict(max_epochs=2, hidden_size=8, random_state=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: (rnnfast.RNNClassifier(**FAST).fit(X, X[:, 0, 0] > 0), "predict_proba"),
        lambda: (rnnfast.SequenceTagger(**FAST).fit(X, X[:, :, 0] > 0), "predict_proba"),
        lambda: (rnnfast.RNNRegressor(**FAST).fit(X, X[:, :3, 1]), "predict"),
        lambda: (rnnfast.RNNRegressor(**FAST).fit(X, X[:, 0, 1]), "predict"),
        lambda: (rnnfast.RNNForecaster(window=7, **FAST).fit(X, X[:, :2, :]), "predict"),
        lambda: (
            rnnfast.RNNClassifier(frame_stride=3, **FAST).fit(X * 9 + 2, X[:, 0, 0] > 0),
            "predict_proba",
        ),
        lambda: (
            rnnfast.RNNClassifier(standardize="per_sequence", **FAST).fit(X, X[:, 0, 0] > 0),
            "predict_proba",
        ),
        lambda: (
            rnnfast.RNNClassifier(
                standardize="per_sequence_level", frame_stride=2, frame_size=3, **FAST
            ).fit(X * 3 - 1, X[:, 0, 0] > 0),
            "predict_proba",
        ),
    ],
    ids=[
        "classifier",
        "tagger",
        "regressor-multi",
        "regressor-1d",
        "forecaster-standardised",
        "classifier-frames",
        "classifier-per-sequence",
        "classifier-per-sequence-level",
    ],
)
def test_estimator_predictor_matches_predict(make):
    est, method = make()
    module = to_torch(est).eval()
    with torch.no_grad():
        got = module(torch.from_numpy(X)).numpy()
    expected = getattr(est, method)(X)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["per_sequence", "per_sequence_level"])
def test_per_sequence_predictor_with_lengths_matches_predict(mode):
    ragged = [X[i, : 2 + i % 6] * (i + 1) - i for i in range(len(X))]
    est = rnnfast.RNNClassifier(standardize=mode, frame_stride=2, frame_size=3, **FAST)
    est.fit(ragged, X[:, 0, 0] > 0)
    lengths = np.array([len(s) for s in ragged])
    padded = np.zeros((len(ragged), lengths.max(), 2), np.float32)
    for i, s in enumerate(ragged):
        padded[i, : len(s)] = s
    with torch.no_grad():
        got = to_torch(est).eval()(torch.from_numpy(padded), torch.from_numpy(lengths)).numpy()
    np.testing.assert_allclose(got, est.predict_proba(ragged), rtol=1e-5, atol=1e-6)


def test_bad_arguments():
    with pytest.raises(TypeError, match="fitted estimator"):
        to_torch(object())
    with pytest.raises(TypeError, match="export its network_"):
        to_torch(rnnfast.CharRNN(max_epochs=1, hidden_size=4).fit("abcabc" * 20))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        to_torch(rnnfast.RNNClassifier())
    with pytest.raises(TypeError, match="module must be"):
        from_torch(torch.nn.Conv1d(2, 2, 3))
    with pytest.raises(ValueError, match="batch_first=True"):
        from_torch(torch.nn.GRU(2, 3))
    with pytest.raises(ValueError, match="proj_size"):
        from_torch(torch.nn.LSTM(2, 3, batch_first=True, proj_size=2))
    with pytest.raises(ValueError, match="bias=True"):
        from_torch(torch.nn.RNN(2, 3, batch_first=True, bias=False))
    with pytest.raises(TypeError, match="float32 or float64"):
        from_torch(torch.nn.Linear(2, 3, dtype=torch.float16))
