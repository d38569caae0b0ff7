"""Property-based tests (hypothesis): random shapes, lengths, dtypes, memory layouts and
magnitudes give either PyTorch's result or a clear ValueError/TypeError, never a crash.

Examples run per ``python -m pytest`` (derandomized, so CI sees the same ones every time):
``NN_EXAMPLES`` module forward+backward cases against torch autograd, ``ESTIMATOR_EXAMPLES``
fitted classifiers against their torch predictor, and ``BAD_INPUT_EXAMPLES`` malformed inputs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rnnfast
from rnnfast import nn
from rnnfast.interop import to_torch
from rnnfast.interop._torch_modules import run_recurrent

pytestmark = [pytest.mark.slow, pytest.mark.core]  # see both markers in pyproject.toml

NN_EXAMPLES = 1500
ESTIMATOR_EXAMPLES = 300
BAD_INPUT_EXAMPLES = 1000

SETTINGS = dict(
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# norm-wise relative error allowed against torch (float32: approximate exp/tanh, other
# summation orders; float64: libm's functions). Inputs of 1e3 and more saturate the gates,
# where a derivative s * (1 - s) with s within 1e-4 of 1 keeps only ~3 significant digits
# in float32 (one ulp of s is 1e-3 of 1 - s), in torch as here.
TOLERANCE = {np.float32: 2e-4, np.float64: 1e-9}
SATURATED_FLOAT32_TOLERANCE = 5e-3


def layouts(array: np.ndarray, layout: str) -> np.ndarray:
    """The same values in another memory layout: what users hand in from slicing and I/O."""
    if layout == "fortran":
        return np.asfortranarray(array)
    if layout == "strided":  # every other element of a twice-as-large buffer
        big = np.zeros((*array.shape[:-1], 2 * array.shape[-1]), array.dtype)
        big[..., ::2] = array
        return big[..., ::2]
    if layout == "negative":  # reversed views of reversed data
        return np.ascontiguousarray(array[::-1, ::-1, ::-1])[::-1, ::-1, ::-1]
    if layout == "readonly":
        array = array.copy()
        array.setflags(write=False)
    return array


@st.composite
def module_cases(draw):
    batch = draw(st.integers(0, 5))
    time = draw(st.integers(1, 8))
    lengths_kind = draw(st.sampled_from(["none", "equal", "ragged"]))
    if lengths_kind == "equal" or batch == 0:
        lengths = None if lengths_kind == "none" else np.full(batch, time)
    elif lengths_kind == "ragged":  # unsorted, some at 1
        lengths = np.array(draw(st.lists(st.integers(1, time), min_size=batch, max_size=batch)))
    else:
        lengths = None
    return dict(
        cell=draw(st.sampled_from(["lstm", "gru", "rnn", "rnn_relu"])),
        dtype=draw(st.sampled_from([np.float32, np.float64])),
        batch=batch,
        time=time,
        input_size=draw(st.sampled_from([1, 2, 5, 300])),
        hidden_size=draw(st.integers(1, 9)),
        num_layers=draw(st.integers(1, 2)),
        bidirectional=draw(st.booleans()),
        lengths=lengths,
        layout=draw(st.sampled_from(["c", "fortran", "strided", "negative", "readonly"])),
        magnitude=draw(st.sampled_from([1e-30, 1e-3, 1.0, 1e3, 1e30])),
        seed=draw(st.integers(0, 2**16)),
        with_state=draw(st.booleans()),
    )


def _close(actual, expected, tol, what, floor=0.0):
    """Norm-wise relative error ``max|a - e| <= tol * max|e| + floor``."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, what
    scale = np.abs(expected).max(initial=0.0)
    error = np.abs(actual - expected).max(initial=0.0)
    assert error <= tol * scale + floor, (what, error, scale)


@settings(max_examples=NN_EXAMPLES, **SETTINGS)
@given(case=module_cases())
def test_module_matches_torch_on_any_shape_layout_and_magnitude(case):
    rng = np.random.default_rng(case["seed"])
    dtype = case["dtype"]
    module = nn.make_recurrent(
        case["cell"],
        case["input_size"],
        case["hidden_size"],
        num_layers=case["num_layers"],
        bidirectional=case["bidirectional"],
        dtype=dtype,
        random_state=case["seed"],
    )
    shape = (case["batch"], case["time"], case["input_size"])
    x = (rng.standard_normal(shape) * case["magnitude"]).astype(dtype)
    state_shape = (module.num_layers * module.num_directions, case["batch"], module.hidden_size)
    hx = None
    if case["with_state"]:
        hx = tuple(rng.standard_normal(state_shape).astype(dtype) for _ in range(2))
        hx = hx if case["cell"] == "lstm" else hx[0]
    lengths = case["lengths"]

    out, state = module.forward(layouts(x, case["layout"]), lengths, hx)
    assert out.shape == (case["batch"], case["time"], module.num_directions * module.hidden_size)
    if case["batch"] == 0:
        return
    grad_out = rng.standard_normal(out.shape).astype(dtype)
    grad_x, grad_hx = module.backward(layouts(grad_out, case["layout"]))

    # reference: torch autograd on the same weights, packed when lengths are given
    reference = to_torch(module)
    x_t = torch.tensor(x, requires_grad=True)
    hx_t = None
    if hx is not None:
        parts = hx if isinstance(hx, tuple) else (hx,)
        hx_t = tuple(torch.tensor(p, requires_grad=True) for p in parts)
    if lengths is None:
        out_t, state_t = reference(x_t, hx_t if hx_t is None or len(hx_t) == 2 else hx_t[0])
    else:
        out_t, state_t = _run_with_state(reference, x_t, lengths, hx_t)
    out_t.backward(torch.tensor(grad_out))
    tol = TOLERANCE[dtype]
    saturated_floor = 0.0
    if case["magnitude"] >= 1e3:
        if dtype == np.float32:
            tol = SATURATED_FLOAT32_TOLERANCE
        # deep saturation: s * (1 - s) itself is below the dtype's resolution near 1, so each
        # gate derivative is known only to ~eps; gradients are sums of such terms (float64
        # too: a GRU at magnitude 1000 differed from torch by 4.6e-15 on a gradient whose
        # largest entry was 3.4e-6, 1.4e-9 relative)
        saturated_floor = (
            np.finfo(dtype).eps
            * np.abs(grad_out).max()
            * grad_out.shape[0]
            * grad_out.shape[1]
            * max(1.0, np.abs(x).max())
        )
    # Saturated gates: torch's exact sigmoid has derivative 0 where the float32 one leaves
    # ~1e-38, which a weight gradient multiplies by the input (and sums over steps).
    floor = (
        1e4
        * np.finfo(dtype).tiny
        * x.size
        * max(1.0, np.abs(x).max(initial=0))
        * max(1.0, np.abs(grad_out).max(initial=0))
    ) + saturated_floor
    tiny = 1e4 * np.finfo(dtype).tiny  # saturated gates: ~1e-38 where torch has 0
    _close(out, out_t.detach().numpy(), tol, "output", tiny)
    for mine, theirs in zip(_parts(state), _parts(state_t), strict=True):
        _close(mine, theirs.detach().numpy(), tol, "final state", tiny)
    _close(grad_x, x_t.grad.numpy(), tol, "grad input", floor)
    if hx_t is not None:
        for mine, theirs in zip(_parts(grad_hx), hx_t, strict=True):
            _close(mine, theirs.grad.numpy(), tol, "grad state", floor)
    for name, param in reference.named_parameters():
        _close(module.grads[name], param.grad.numpy(), tol, name, floor)


def _run_with_state(reference, x_t, lengths, hx_t):
    if hx_t is None:
        return run_recurrent(reference, x_t, lengths)
    packed = torch.nn.utils.rnn.pack_padded_sequence(
        x_t, torch.as_tensor(lengths), batch_first=True, enforce_sorted=False
    )
    out, state = reference(packed, hx_t if len(hx_t) == 2 else hx_t[0])
    out, _ = torch.nn.utils.rnn.pad_packed_sequence(
        out, batch_first=True, total_length=x_t.shape[1]
    )
    return out, state


def _parts(state):
    return state if isinstance(state, tuple) else (state,)


@st.composite
def sequence_sets(draw):
    n = draw(st.integers(2, 12))
    lengths = draw(st.lists(st.integers(1, 20), min_size=n, max_size=n))
    form = draw(st.sampled_from(["list", "3d", "2d"]))
    if form != "list":
        lengths = [max(lengths)] * n
    return dict(
        lengths=lengths,
        features=1 if form == "2d" else draw(st.integers(1, 4)),
        form=form,
        dtype=draw(st.sampled_from([np.float16, np.float32, np.float64, np.int32])),
        layout=draw(st.sampled_from(["c", "fortran", "strided", "negative", "readonly"])),
        magnitude=draw(st.sampled_from([1e-6, 1.0, 1e4])),
        cell=draw(st.sampled_from(["lstm", "gru", "rnn", "rnn_relu"])),
        bidirectional=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


def _build_inputs(case, rng):
    values = [
        (rng.standard_normal((length, case["features"])) * case["magnitude"]).astype(case["dtype"])
        for length in case["lengths"]
    ]
    if case["form"] == "list":
        return [layouts(v[None], case["layout"])[0] for v in values]
    stacked = np.stack(values)
    if case["form"] == "2d":
        stacked = stacked[:, :, 0]
        return layouts(stacked[:, :, None], case["layout"])[:, :, 0]
    return layouts(stacked, case["layout"])


@settings(max_examples=ESTIMATOR_EXAMPLES, **SETTINGS)
@given(case=sequence_sets())
def test_classifier_predictions_match_its_torch_predictor(case):
    """Fit on any input form/dtype/layout, then ``predict_proba`` equals the torch version of
    the same model on the same (float32, padded) data."""
    rng = np.random.default_rng(case["seed"])
    X = _build_inputs(case, rng)
    y = np.arange(len(case["lengths"])) % 2
    model = rnnfast.RNNClassifier(
        cell=case["cell"],
        hidden_size=5,
        bidirectional=case["bidirectional"],
        max_epochs=1,
        batch_size=4,
        random_state=case["seed"],
    )
    with np.errstate(over="ignore"):  # float16 inputs of 1e4 overflow to inf: rejected below
        finite = all(np.isfinite(np.asarray(s, np.float64)).all() for s in X)
    if not finite:
        with pytest.raises(ValueError, match=r"NaN|infinity"):
            model.fit(X, y)
        return
    proba = model.fit(X, y).predict_proba(X)
    assert proba.shape == (len(y), 2) and np.isfinite(proba).all()
    padded = np.zeros((len(y), max(case["lengths"]), case["features"]), np.float32)
    for i, length in enumerate(case["lengths"]):
        padded[i, :length] = np.asarray(X[i], np.float32).reshape(length, -1)
    predictor = to_torch(model)
    with torch.no_grad():
        expected = predictor(torch.from_numpy(padded), torch.tensor(case["lengths"])).numpy()
    np.testing.assert_allclose(proba, expected, rtol=1e-4, atol=1e-5)


BAD_VALUES = st.sampled_from([np.nan, np.inf, -np.inf])


@st.composite
def bad_inputs(draw):
    kind = draw(
        st.sampled_from(
            [
                "nan",
                "ndim1",
                "ndim4",
                "strings",
                "objects",
                "empty_time",
                "zero_features",
                "complex",
                "wrong_features",
                "mixed_features",
                "none",
            ]
        )
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    good = rng.standard_normal((3, 4, 2)).astype(np.float32)
    if kind == "nan":
        bad = good.copy()
        bad[draw(st.integers(0, 2)), draw(st.integers(0, 3)), draw(st.integers(0, 1))] = draw(
            BAD_VALUES
        )
        return kind, bad
    return kind, {
        "ndim1": good.ravel(),
        "ndim4": good[..., None],
        "strings": np.full(good.shape, "abc"),
        "objects": np.array([object()] * 3, dtype=object),
        "empty_time": good[:, :0],
        "zero_features": good[:, :, :0],
        "complex": good.astype(np.complex64),
        "wrong_features": rng.standard_normal((3, 4, 5)),
        "mixed_features": [good[0], good[1, :, :1], good[2]],
        "none": None,
    }[kind]


@pytest.fixture(scope="module")
def fitted_for_bad_inputs():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 4, 2)).astype(np.float32)
    estimators = [
        rnnfast.RNNClassifier(hidden_size=4, max_epochs=1).fit(X, np.arange(6) % 2),
        rnnfast.RNNRegressor(hidden_size=4, max_epochs=1).fit(X, np.arange(6.0)),
        rnnfast.SequenceTagger(hidden_size=4, max_epochs=1).fit(X, np.arange(24).reshape(6, 4) % 2),
    ]
    return estimators


@settings(max_examples=BAD_INPUT_EXAMPLES, **SETTINGS)
@given(case=bad_inputs())
def test_malformed_inputs_raise_clear_errors(fitted_for_bad_inputs, case):
    kind, X = case
    for model in fitted_for_bad_inputs:
        with pytest.raises((ValueError, TypeError)):
            model.predict(X)
    module = nn.GRU(2, 3, random_state=0)
    if kind != "mixed_features":  # ragged lists are an estimator input form only
        with pytest.raises((ValueError, TypeError)):
            module.forward(X)
