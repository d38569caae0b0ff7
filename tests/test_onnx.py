"""rnnfast.onnx.export: the graph passes onnx.checker and onnxruntime reproduces rnnfast."""

from __future__ import annotations

import io

import numpy as np
import onnx
import onnxruntime as ort
import pytest

import rnnfast
from rnnfast import nn
from rnnfast.onnx import export

from conftest import ARCHITECTURES, architecture_id, network_for

RNG = np.random.default_rng(0)
LENGTHS = np.array([6, 2, 5, 1, 3])


def run_onnx(obj, x, lengths=None, **kwargs):
    """Export ``obj``, check the model, run it in onnxruntime: {output name: array}."""
    buffer = io.BytesIO()
    model = export(obj, buffer, lengths=lengths is not None, **kwargs)
    onnx.checker.check_model(onnx.load_from_string(buffer.getvalue()), full_check=True)
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    feed = {"input": x}
    if lengths is not None:
        feed["lengths"] = np.asarray(lengths, np.int64)
    names = [o.name for o in session.get_outputs()]
    assert names == [o.name for o in model.graph.output]
    return dict(zip(names, session.run(None, feed), strict=True))


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("case", ARCHITECTURES, ids=architecture_id)
def test_recurrent_stack(case):
    cell, bidirectional, layers, with_lengths = case
    stack = nn.make_recurrent(
        cell, 3, 5, num_layers=layers, bidirectional=bidirectional, random_state=1
    )
    x = RNG.standard_normal((5, 6, 3)).astype(np.float32)
    lengths = LENGTHS if with_lengths else None
    output, state = stack.forward(x, lengths, training=False)
    got = run_onnx(stack, x, lengths)
    close(got["output"], output)
    if cell == "lstm":
        close(got["h_n"], state[0])
        close(got["c_n"], state[1])
    else:
        close(got["h_n"], state)
        assert "c_n" not in got


@pytest.mark.parametrize("case", ARCHITECTURES, ids=architecture_id)
@pytest.mark.parametrize("per_step", [False, True], ids=["per_sequence", "per_step"])
def test_sequence_network(case, per_step):
    with_lengths = case[3]
    net = network_for(case, per_step)
    x = RNG.standard_normal((5, 6, 3)).astype(np.float32)
    lengths = LENGTHS if with_lengths else None
    expected = net.forward(x, lengths, training=False)
    got = run_onnx(net, x, lengths)["output"]
    close(got, expected)  # past a length both heads read zeros (the output is the bias)


@pytest.mark.parametrize("with_lengths", [False, True])
def test_sequence_autoencoder(with_lengths):
    auto = nn.SequenceAutoencoder("lstm", 3, 4, num_layers=2, bidirectional=True, random_state=0)
    x = RNG.standard_normal((5, 6, 3)).astype(np.float32)
    lengths = LENGTHS if with_lengths else None
    close(run_onnx(auto, x, lengths)["output"], auto.forward(x, lengths, training=False))


X = RNG.standard_normal((40, 7, 2)).astype(np.float32)
LENGTHS40 = RNG.integers(1, 8, size=40)
RAGGED = [X[i, : LENGTHS40[i]] for i in range(40)]
PADDED = np.zeros_like(X)
for i, seq in enumerate(RAGGED):
    PADDED[i, : len(seq)] = seq
FAST = dict(max_epochs=2, hidden_size=8, random_state=0)


@pytest.mark.parametrize("cell", nn.CELL_TYPES)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_classifier_probabilities_and_labels(cell, bidirectional):
    labels = np.array(["low", "high"], dtype=object)[(X[:, :, 0].sum(axis=1) > 0).astype(int)]
    clf = rnnfast.RNNClassifier(cell=cell, bidirectional=bidirectional, num_layers=2, **FAST)
    clf.fit(RAGGED, labels)
    got = run_onnx(clf, PADDED, LENGTHS40)
    close(got["probabilities"], clf.predict_proba(RAGGED))
    assert got["label"].tolist() == clf.predict(RAGGED).tolist()
    full = run_onnx(clf, X)
    close(full["probabilities"], clf.predict_proba(X))


def test_classifier_frames_and_standardisation_inside_the_graph():
    clf = rnnfast.RNNClassifier(frame_stride=3, **FAST).fit(
        [x * 7 - 2 for x in RAGGED], LENGTHS40 > 3
    )
    got = run_onnx(clf, PADDED * 7 - 2, LENGTHS40)
    close(got["probabilities"], clf.predict_proba([x * 7 - 2 for x in RAGGED]))
    assert clf.frame_stride_ == 3 and clf._x_scale.max() > 3


@pytest.mark.parametrize("mode", ["per_sequence", "per_sequence_level"])
def test_classifier_per_sequence_standardisation_inside_the_graph(mode):
    units = [x * (i + 1) + i for i, x in enumerate(RAGGED)]  # every series its own unit
    padded = np.zeros_like(PADDED)
    for i, x in enumerate(units):
        padded[i, : len(x)] = x
    clf = rnnfast.RNNClassifier(standardize=mode, frame_stride=2, frame_size=3, **FAST)
    clf.fit(units, LENGTHS40 > 3)
    got = run_onnx(clf, padded, LENGTHS40)
    close(got["probabilities"], clf.predict_proba(units))
    full = run_onnx(clf, X * 4 - 1)  # no lengths input: every step valid
    close(full["probabilities"], clf.predict_proba(X * 4 - 1))


def test_classifier_integer_labels():
    clf = rnnfast.RNNClassifier(**FAST).fit(X, (X[:, 0, 0] > 0).astype(int) * 3 + 1)
    got = run_onnx(clf, X)
    assert got["label"].dtype == np.int64
    assert np.array_equal(got["label"], clf.predict(X))


def test_tagger_per_step_over_valid_steps():
    tags = [(seq[:, 0] > 0).astype(int) for seq in RAGGED]
    tagger = rnnfast.SequenceTagger(**FAST).fit(RAGGED, tags)
    got = run_onnx(tagger, PADDED, LENGTHS40)
    pairs = zip(tagger.predict_proba(RAGGED), tagger.predict(RAGGED), strict=True)
    for i, (proba, labels) in enumerate(pairs):
        close(got["probabilities"][i, : LENGTHS40[i]], proba)
        assert np.array_equal(got["label"][i, : LENGTHS40[i]], labels)


@pytest.mark.parametrize("y", [X[:, 0, 1], X[:, :3, 1]], ids=["one-target", "three-targets"])
def test_regressor_predictions(y):
    reg = rnnfast.RNNRegressor(cell="gru", **FAST).fit(RAGGED, y)
    got = run_onnx(reg, PADDED, LENGTHS40)["predictions"]
    assert got.dtype == np.float64 and got.shape == reg.predict(RAGGED).shape
    close(got, reg.predict(RAGGED))


def test_forecaster_standardises_inside_the_graph():
    series = np.column_stack([np.sin(np.arange(300) / 5), np.cos(np.arange(300) / 7)]) * 50 + 20
    fc = rnnfast.RNNForecaster(window=12, horizon=3, **FAST).fit_series(series)
    windows = np.stack([series[i : i + 12] for i in range(0, 200, 10)]).astype(np.float32)
    got = run_onnx(fc, windows)["predictions"]
    assert got.shape == fc.predict(windows).shape == (20, 3, 2)
    close(got, fc.predict(windows))


def test_float64_modules():
    stack = nn.GRU(3, 4, dtype=np.float64, random_state=0)
    x = RNG.standard_normal((2, 5, 3))
    # default: a float32 graph, which onnxruntime runs
    close(run_onnx(stack, x.astype(np.float32))["output"], stack.forward(x, training=False)[0])
    # on request: a valid double-precision graph (onnxruntime has no double GRU kernel)
    model = export(stack, io.BytesIO(), dtype=np.float64)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE


def test_graph_uses_standard_operators_time_major(tmp_path):
    stack = nn.LSTM(3, 4, num_layers=2, bidirectional=True, random_state=0)
    model = export(stack, tmp_path / "lstm.onnx")
    assert onnx.load(tmp_path / "lstm.onnx") == model
    lstm_nodes = [n for n in model.graph.node if n.op_type == "LSTM"]
    assert len(lstm_nodes) == 2
    for node in lstm_nodes:
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        assert attributes.get("layout", 0) == 0
        assert attributes["direction"] == b"bidirectional"
        assert node.input[4]  # sequence_lens wired
    gru = export(nn.GRU(3, 4), io.BytesIO())
    (node,) = [n for n in gru.graph.node if n.op_type == "GRU"]
    assert {a.name: a.i for a in node.attribute}["linear_before_reset"] == 1


def test_bad_arguments():
    stack = nn.LSTM(2, 3)
    with pytest.raises(ValueError, match="opset"):
        export(stack, io.BytesIO(), opset=9)
    with pytest.raises(ValueError, match="dtype"):
        export(stack, io.BytesIO(), dtype=np.float16)
    with pytest.raises(TypeError, match="lengths"):
        export(stack, io.BytesIO(), lengths="yes")
    with pytest.raises(TypeError, match="fitted estimator"):
        export(object(), io.BytesIO())
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        export(rnnfast.RNNRegressor(), io.BytesIO())
    detector = rnnfast.RNNAnomalyDetector(**FAST).fit(X)
    with pytest.raises(TypeError, match="export its network_ instead"):
        export(detector, io.BytesIO())
    export(detector.network_, io.BytesIO())  # the network itself exports
