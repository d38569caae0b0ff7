"""What the per-sequence estimators do to numeric input before the network: standardisation
(``standardize``) and frame stacking (``frame_stride``, "auto" from the series length)."""

from __future__ import annotations

import numpy as np
import pytest

import rnnfast
from rnnfast import RNNClassifier, RNNRegressor, SequenceTagger
from rnnfast.data.sequences import Sequences, stack_frames
from rnnfast.estimators._params import AUTO_FRAME_STEPS

RNG = np.random.default_rng(0)
X = RNG.standard_normal((60, 30, 2)).astype(np.float32)
Y_CLASS = (X[:, :, 0].mean(axis=1) > 0).astype(int)
FAST = dict(hidden_size=8, max_epochs=3, random_state=0)


@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor])
def test_standardize_makes_the_fit_blind_to_units(Estimator):
    y = Y_CLASS if Estimator is RNNClassifier else X[:, :, 1].mean(axis=1)
    scaled = X * np.float32([1000, 0.001]) + np.float32([50, -3])
    a = Estimator(**FAST).fit(X, y)
    b = Estimator(**FAST).fit(scaled, y)
    outputs = "predict_proba" if Estimator is RNNClassifier else "predict"
    np.testing.assert_allclose(
        getattr(a, outputs)(X), getattr(b, outputs)(scaled), rtol=1e-2, atol=1e-3
    )
    # without it the units reach the network and change the fit
    c = Estimator(standardize=False, **FAST).fit(scaled, y)
    assert not np.allclose(getattr(c, outputs)(scaled), getattr(b, outputs)(scaled), atol=1e-2)


def test_standardization_statistics_are_per_feature_over_valid_steps():
    ragged = [X[0, :5] + 10, X[1, :30] * 4]
    clf = RNNClassifier(**FAST).fit(ragged, [0, 1])
    steps = np.concatenate(ragged)
    np.testing.assert_allclose(clf._x_mean, steps.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(clf._x_scale, steps.std(axis=0), rtol=1e-5)


def test_tagger_standardizes_too():
    tags = (X[:, :, 0] > 0).astype(int)
    tagger = SequenceTagger(**FAST).fit(X * 100, tags)
    np.testing.assert_allclose(tagger._x_scale, (X * 100).reshape(-1, 2).std(axis=0), rtol=1e-4)
    assert not hasattr(SequenceTagger(standardize=False, **FAST).fit(X, tags), "_x_mean")


@pytest.mark.parametrize(
    ("longest", "expected"),
    [(AUTO_FRAME_STEPS, 1), (AUTO_FRAME_STEPS + 1, 2), (10 * AUTO_FRAME_STEPS, 10)],
)
def test_auto_frame_stride_from_the_longest_training_sequence(longest, expected):
    series = [RNG.standard_normal(longest), RNG.standard_normal(7)]
    clf = RNNClassifier(max_epochs=1, hidden_size=4).fit(series, [0, 1])
    assert clf.frame_stride_ == expected
    assert clf.network_.input_size == expected  # univariate: one input per stacked step


def test_frame_stride_equals_stacking_the_frames_by_hand():
    ragged = [X[i, : 5 + i % 20] for i in range(len(X))]
    params = dict(standardize=False, **FAST)
    framed = RNNClassifier(frame_stride=4, **params).fit(ragged, Y_CLASS)
    assert framed.frame_stride_ == 4
    lengths = np.array([len(s) for s in ragged])
    padded = np.zeros((len(ragged), lengths.max(), 2), np.float32)
    for i, s in enumerate(ragged):
        padded[i, : len(s)] = s
    seqs = stack_frames(Sequences(padded, lengths, "list"), 4)
    by_hand = [seqs.values[i, : seqs.lengths[i]] for i in range(len(ragged))]
    plain = RNNClassifier(frame_stride=1, **params).fit(by_hand, Y_CLASS)
    np.testing.assert_array_equal(framed.predict_proba(ragged), plain.predict_proba(by_hand))


def test_token_input_never_stacks():
    tokens = [RNG.integers(2, 9, size=300) for _ in range(6)]
    clf = RNNClassifier(embedding_dim=4, **FAST).fit(tokens, [0, 1] * 3)
    assert clf.frame_stride_ == 1
    with pytest.raises(ValueError, match="frame_stride=3 stacks numeric steps"):
        RNNClassifier(embedding_dim=4, frame_stride=3, **FAST).fit(tokens, [0, 1] * 3)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        (dict(frame_stride=0), ValueError, "frame_stride must be in"),
        (dict(frame_stride="long"), ValueError, "frame_stride must be 'auto' or an int"),
        (dict(frame_stride=2.5), TypeError, "frame_stride must be an integer"),
        (dict(standardize="yes"), TypeError, "standardize must be a bool"),
    ],
)
def test_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        RNNClassifier(**params).fit(X, Y_CLASS)


def test_saved_model_keeps_frames_and_statistics(tmp_path):
    long = RNG.standard_normal((8, 3 * AUTO_FRAME_STEPS)) * 20 + 5
    clf = RNNClassifier(**FAST).fit(long, [0, 1] * 4)
    rnnfast.save(clf, tmp_path / "m.rnnf")
    loaded = rnnfast.load(tmp_path / "m.rnnf")
    assert loaded.frame_stride_ == 3
    np.testing.assert_array_equal(loaded.predict_proba(long), clf.predict_proba(long))


def test_a_refit_fits_the_input_transform_afresh():
    long = RNG.standard_normal((6, 3 * AUTO_FRAME_STEPS)).astype(np.float32)
    clf = RNNClassifier(**FAST).fit(long, [0, 1] * 3)
    assert clf.frame_stride_ == 3 and hasattr(clf, "_x_mean")
    clf.set_params(standardize=False, frame_stride=1).fit(long, [0, 1] * 3)
    assert clf.frame_stride_ == 1 and not hasattr(clf, "_x_mean")
    assert clf.network_.input_size == 1


def test_docs_show_each_class_its_own_defaults():
    assert 'pooling : {"last", "mean", "max", "attention"}, default "max"' in RNNClassifier.__doc__
    assert 'default "last"' in RNNRegressor.__doc__
    assert "hidden_size : int, default 64" in RNNClassifier.__doc__
    assert "hidden_size : int, default 32" in RNNRegressor.__doc__
