"""``est.freeze()``: a fitted estimator whose network's weights are packed once, for serving.

Its predictions equal the estimator's bit for bit; it cannot continue training, and what it is
frozen from can train on without reaching it.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import rnnfast

RNG = np.random.default_rng(0)
X = RNG.standard_normal((24, 12, 3)).astype(np.float32)
RAGGED = [X[i, : 4 + i % 9] for i in range(len(X))]
FAST = dict(hidden_size=8, max_epochs=2, random_state=0)


def _fitted(kind: str):
    """(fitted estimator, its inference methods and their arguments)."""
    if kind == "classifier":
        est = rnnfast.RNNClassifier(**FAST).fit(RAGGED, np.arange(24) % 3)
        return est, [("predict_proba", RAGGED), ("predict", RAGGED)]
    if kind == "classifier-streamed":  # unidirectional, last state: predict streams windows
        est = rnnfast.RNNClassifier(bidirectional=False, pooling="last", **FAST)
        est.fit(X, np.arange(24) % 2)
        return est, [("predict_proba", X)]
    if kind == "regressor":
        est = rnnfast.RNNRegressor(cell="lstm", **FAST).fit(RAGGED, X[:, 0, :2])
        return est, [("predict", RAGGED)]
    if kind == "tagger":
        est = rnnfast.SequenceTagger(**FAST).fit(
            RAGGED, [(s[:, 0] > 0).astype(int) for s in RAGGED]
        )
        return est, [("predict_proba", RAGGED)]
    if kind == "forecaster":
        est = rnnfast.RNNForecaster(window=6, **FAST).fit(X, X[:, :2, 0])
        return est, [("predict", X)]
    if kind == "char-rnn":
        est = rnnfast.CharRNN(**FAST).fit("abcab" * 40)
        return est, [("generate", "ab")]
    if kind == "transcriber":
        from rnnfast.datasets import make_symbol_signals

        signals, labels = make_symbol_signals(30, random_state=0)
        est = rnnfast.SequenceTranscriber(**FAST).fit(signals, labels)
        return est, [("predict_posteriors", signals[:5])]
    if kind == "anomaly-detector":
        est = rnnfast.RNNAnomalyDetector(**FAST).fit(X)
        return est, [("score_samples", X), ("predict", X)]
    raise AssertionError(kind)


KINDS = [
    "classifier",
    "classifier-streamed",
    "regressor",
    "tagger",
    "forecaster",
    "char-rnn",
    "transcriber",
    "anomaly-detector",
]


def _call(est, method, data):
    if method == "generate":
        return est.generate(data, n_chars=20, random_state=0)
    return getattr(est, method)(data)


@pytest.mark.parametrize("kind", KINDS)
def test_frozen_estimator_predicts_exactly_what_the_estimator_does(kind):
    est, calls = _fitted(kind)
    frozen = est.freeze()
    assert type(frozen) is type(est) and frozen.network_.frozen and not est.network_.frozen
    for method, data in calls:
        expected, got = _call(est, method, data), _call(frozen, method, data)
        if isinstance(expected, str):
            assert got == expected
        elif isinstance(expected, list):  # ragged per-step results
            assert len(got) == len(expected)
            for a, b in zip(got, expected, strict=True):
                np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_array_equal(got, expected)


def test_later_training_does_not_reach_the_frozen_copy():
    est, _ = _fitted("classifier")
    frozen = est.freeze()
    before = frozen.predict_proba(RAGGED)
    est.partial_fit(RAGGED, np.arange(24) % 3)
    assert not np.array_equal(est.predict_proba(RAGGED), before)
    np.testing.assert_array_equal(frozen.predict_proba(RAGGED), before)
    with pytest.raises(ValueError, match="read-only"):
        frozen.network_.head.params["weight"][0, 0] = 1.0


def test_frozen_estimator_cannot_continue_training_but_can_train_anew():
    est, _ = _fitted("classifier")
    frozen = est.freeze()
    with pytest.raises(ValueError, match="no training state to continue from"):
        frozen.partial_fit(RAGGED, np.arange(24) % 3)
    with pytest.raises(ValueError, match="no training state to continue from"):
        frozen.set_params(warm_start=True).fit(RAGGED, np.arange(24) % 3)
    frozen.set_params(warm_start=False).fit(RAGGED, np.arange(24) % 3)  # a new network
    assert not frozen.network_.frozen
    frozen.partial_fit(RAGGED, np.arange(24) % 3)


def test_frozen_estimator_pickles_and_saves_as_a_predicting_model(tmp_path):
    est, _ = _fitted("classifier")
    frozen = est.freeze()
    expected = est.predict_proba(RAGGED)
    unpickled = pickle.loads(pickle.dumps(frozen))
    assert unpickled.network_.frozen
    np.testing.assert_array_equal(unpickled.predict_proba(RAGGED), expected)
    frozen.save(tmp_path / "frozen.rnnf")
    loaded = rnnfast.load(tmp_path / "frozen.rnnf")
    np.testing.assert_array_equal(loaded.predict_proba(RAGGED), expected)
    with pytest.raises(ValueError, match="no training state to continue from"):
        loaded.partial_fit(RAGGED, np.arange(24) % 3)


def test_freeze_needs_a_fitted_estimator_with_a_sequence_network():
    with pytest.raises(NotFittedError):
        rnnfast.RNNClassifier().freeze()
    detector = rnnfast.RNNAnomalyDetector(method="reconstruction", **FAST).fit(X)
    with pytest.raises(TypeError, match=r"needs a SequenceNetwork.*SequenceAutoencoder"):
        detector.freeze()
    words = ["abc", "hello", "data"] * 4
    translator = rnnfast.SequenceTranslator(hidden_size=4, embedding_dim=3, max_epochs=1)
    translator.fit(words, [w[::-1] for w in words])
    with pytest.raises(TypeError, match="needs a SequenceNetwork"):
        translator.freeze()


def test_frozen_network_refuses_training():
    est, _ = _fitted("classifier")
    frozen = est.network_.freeze()
    with pytest.raises(ValueError, match="this network is frozen"):
        frozen.forward(X, training=True)
