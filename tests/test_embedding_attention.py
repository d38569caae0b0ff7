"""nn.Embedding and nn.Attention: parity with torch (outputs, input gradients, parameter
gradients, ragged memory lengths), float64 central differences, errors, and save/load."""

from __future__ import annotations

import io

import numpy as np
import pytest

import rnnfast
from rnnfast.nn import ATTENTION_KINDS, Attention, Embedding

from conftest import numeric_gradient

torch = pytest.importorskip("torch")

TOLERANCE = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-9, atol=1e-9)}
TORCH_DTYPE = {np.float32: torch.float32, np.float64: torch.float64}


# ------------------------------------------------------------------------------ embedding
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 0, -1])
def test_embedding_matches_torch(dtype, padding_idx):
    rng = np.random.default_rng(0)
    embed = Embedding(9, 5, padding_idx=padding_idx, dtype=dtype, random_state=1)
    reference = torch.nn.Embedding(9, 5, padding_idx=padding_idx, dtype=TORCH_DTYPE[dtype])
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in embed.state_dict().items()})
    tokens = rng.integers(0, 9, size=(4, 7))
    tokens[0, :3] = 0  # padding and repeated ids accumulate
    tokens[1, :] = 8
    grad = rng.standard_normal((4, 7, 5)).astype(dtype)

    out = embed.forward(tokens)
    embed.backward(grad)
    expected = reference(torch.from_numpy(tokens))
    expected.backward(torch.from_numpy(grad))
    np.testing.assert_allclose(out, expected.detach().numpy(), **TOLERANCE[dtype])
    np.testing.assert_allclose(
        embed.grads["weight"], reference.weight.grad.numpy(), **TOLERANCE[dtype]
    )
    assert out.dtype == dtype and embed.grads["weight"].dtype == dtype


def test_embedding_initialisation_is_torchs():
    embed = Embedding(1000, 64, padding_idx=3, random_state=0)
    weight = embed.params["weight"]
    assert (weight[3] == 0).all()
    others = np.delete(weight, 3, axis=0)
    assert abs(others.mean()) < 0.01 and abs(others.std() - 1) < 0.01  # N(0, 1)


def test_embedding_gradient_by_central_differences():
    rng = np.random.default_rng(3)
    embed = Embedding(6, 3, padding_idx=2, dtype=np.float64, random_state=0)
    tokens = np.array([[1, 2, 1, 5], [0, 0, 4, 2]])
    weights = rng.standard_normal((2, 4, 3))
    embed.forward(tokens)
    embed.backward(weights)
    numeric = numeric_gradient(
        lambda: float((embed.forward(tokens, training=False) * weights).sum()),
        embed.params["weight"],
    )
    numeric[2] = 0  # the padding row gets no gradient, by definition
    np.testing.assert_allclose(embed.grads["weight"], numeric, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize(
    "tokens, error, match",
    [
        (np.array([[0, 9]]), ValueError, r"tokens must lie in \[0, 9\)"),
        (np.array([[-1, 2]]), ValueError, r"tokens must lie in \[0, 9\)"),
        (np.array([[0.0, 1.0]]), TypeError, "integer token ids"),
        (np.array([[True, False]]), TypeError, "integer token ids"),
        (np.array([["a", "b"]]), TypeError, "integer token ids"),
    ],
)
def test_embedding_bad_ids(tokens, error, match):
    with pytest.raises(error, match=match):
        Embedding(9, 2).forward(tokens)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(num_embeddings=0, embedding_dim=2), ValueError, "num_embeddings"),
        (dict(num_embeddings=3, embedding_dim=2.0), ValueError, "embedding_dim"),
        (dict(num_embeddings=3, embedding_dim=2, padding_idx=3), ValueError, "padding_idx"),
        (dict(num_embeddings=3, embedding_dim=2, padding_idx=1.0), TypeError, "padding_idx"),
    ],
)
def test_embedding_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Embedding(**kwargs)


def test_embedding_backward_errors():
    embed = Embedding(4, 2)
    with pytest.raises(RuntimeError, match="needs a forward"):
        embed.backward(np.zeros((1, 1, 2)))
    embed.forward(np.array([[1, 2]]))
    with pytest.raises(ValueError, match=r"grad_output must have shape \(1, 2, 2\)"):
        embed.backward(np.zeros((1, 3, 2)))


# ------------------------------------------------------------------------------ attention
def torch_attention(kind, params, query, memory, lengths):
    """The three scores written directly in torch (autograd gives the reference gradients)."""
    if kind == "dot":
        scores = query @ memory.transpose(1, 2)
    elif kind == "general":
        scores = query @ (memory @ params["weight"].T).transpose(1, 2)
    else:
        hidden = torch.tanh(
            (query @ params["query_weight"].T)[:, :, None, :]
            + (memory @ params["memory_weight"].T)[:, None, :, :]
        )
        scores = hidden @ params["v"]
    if lengths is not None:
        valid = torch.arange(memory.shape[1])[None, :] < torch.as_tensor(lengths)[:, None]
        scores = scores.masked_fill(~valid[:, None, :], float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ memory, weights


def make_attention(kind, dtype, query_size=4, memory_size=5):
    if kind == "dot":
        query_size = memory_size
    extra = dict(attention_size=3) if kind == "additive" else {}
    return Attention(query_size, memory_size, kind=kind, dtype=dtype, random_state=2, **extra)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lengths", [None, [6, 1, 3]], ids=["full", "ragged"])
@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_attention_matches_torch(kind, lengths, dtype):
    rng = np.random.default_rng(5)
    attend = make_attention(kind, dtype)
    query = rng.standard_normal((3, 4, attend.query_size)).astype(dtype)
    memory = rng.standard_normal((3, 6, attend.memory_size)).astype(dtype)
    grad_context = rng.standard_normal((3, 4, attend.memory_size)).astype(dtype)

    context, weights = attend.forward(query, memory, memory_lengths=lengths)
    grad_query, grad_memory = attend.backward(grad_context)

    params = {k: torch.tensor(v, requires_grad=True) for k, v in attend.params.items()}
    q = torch.tensor(query, requires_grad=True)
    m = torch.tensor(memory, requires_grad=True)
    expected_context, expected_weights = torch_attention(kind, params, q, m, lengths)
    expected_context.backward(torch.from_numpy(grad_context))

    tolerance = TOLERANCE[dtype]
    np.testing.assert_allclose(context, expected_context.detach().numpy(), **tolerance)
    np.testing.assert_allclose(weights, expected_weights.detach().numpy(), **tolerance)
    np.testing.assert_allclose(grad_query, q.grad.numpy(), **tolerance)
    np.testing.assert_allclose(grad_memory, m.grad.numpy(), **tolerance)
    assert set(attend.grads) == set(params)
    for name, tensor in params.items():
        np.testing.assert_allclose(attend.grads[name], tensor.grad.numpy(), **tolerance)
    if lengths is not None:  # exactly zero past each sample's length
        assert (weights[1, :, 1:] == 0).all() and (weights[2, :, 3:] == 0).all()
    np.testing.assert_allclose(weights.sum(axis=-1), 1, rtol=1e-6)


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_attention_by_central_differences(kind):
    """Every parameter, the query and the memory, with a loss reading context and weights."""
    rng = np.random.default_rng(9)
    attend = make_attention(kind, np.float64)
    query = rng.standard_normal((2, 3, attend.query_size))
    memory = rng.standard_normal((2, 4, attend.memory_size))
    lengths = np.array([4, 2])
    w_context = rng.standard_normal((2, 3, attend.memory_size))
    w_weights = rng.standard_normal((2, 3, 4))

    def loss():
        context, weights = attend.forward(query, memory, lengths, training=False)
        return float((context * w_context).sum() + (weights * w_weights).sum())

    attend.forward(query, memory, lengths)
    grad_query, grad_memory = attend.backward(w_context, grad_weights=w_weights)
    analytic = {**attend.grads, "query": grad_query, "memory": grad_memory}
    arrays = {**attend.params, "query": query, "memory": memory}
    for name, array in arrays.items():
        numeric = numeric_gradient(loss, array)
        np.testing.assert_allclose(analytic[name], numeric, rtol=1e-6, atol=1e-8, err_msg=name)


def test_attention_inference_forward_leaves_the_training_cache():
    rng = np.random.default_rng(0)
    attend = make_attention("general", np.float64)
    query, memory = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 5))
    attend.forward(query, memory)
    attend.forward(query[:1], memory[:1], training=False)
    grad_query, _ = attend.backward(np.ones((2, 3, 5)))
    assert grad_query.shape == (2, 3, 4)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(query_size=3, memory_size=4, kind="dot"), ValueError, "query_size == memory_size"),
        (dict(query_size=3, memory_size=4, kind="cosine"), ValueError, "kind must be one of"),
        (dict(query_size=0, memory_size=4), ValueError, "query_size"),
        (dict(query_size=3, memory_size=4, attention_size=2), ValueError, "only to kind"),
        (
            dict(query_size=3, memory_size=4, kind="additive", attention_size=0),
            ValueError,
            "attention_size",
        ),
    ],
)
def test_attention_bad_constructor_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Attention(**kwargs)


@pytest.mark.parametrize(
    "query, memory, lengths, error, match",
    [
        (np.zeros((2, 3, 3)), np.zeros((2, 4, 4)), None, ValueError, "query must have shape"),
        (np.zeros((2, 3, 4)), np.zeros((3, 4, 4)), None, ValueError, "memory must have shape"),
        (np.zeros((2, 3, 4)), np.zeros((2, 0, 4)), None, ValueError, "at least one step"),
        (np.zeros((2, 3, 4)), np.zeros((2, 4, 4)), [0, 4], ValueError, r"lengths must lie"),
        (np.zeros((2, 3, 4)), np.zeros((2, 4, 4)), [1.5, 4], TypeError, "integer"),
        (np.full((2, 3, 4), np.nan), np.zeros((2, 4, 4)), None, ValueError, "NaN"),
    ],
)
def test_attention_bad_inputs(query, memory, lengths, error, match):
    with pytest.raises(error, match=match):
        Attention(4, 4).forward(query, memory, lengths)


@pytest.mark.parametrize("kind", ATTENTION_KINDS)
def test_attention_and_embedding_roundtrip_through_save(kind):
    rng = np.random.default_rng(0)
    for module in (make_attention(kind, np.float32), Embedding(7, 3, padding_idx=0)):
        buffer = io.BytesIO()
        module.save(buffer)
        buffer.seek(0)
        loaded = rnnfast.load(buffer)
        assert repr(loaded) == repr(module)
        if isinstance(module, Embedding):
            tokens = rng.integers(0, 7, (2, 5))
            np.testing.assert_array_equal(loaded.forward(tokens), module.forward(tokens))
        else:
            q = rng.standard_normal((2, 3, module.query_size))
            m = rng.standard_normal((2, 4, module.memory_size))
            for got, want in zip(loaded.forward(q, m), module.forward(q, m), strict=True):
                np.testing.assert_array_equal(got, want)
