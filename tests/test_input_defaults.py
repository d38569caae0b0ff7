"""What the per-sequence estimators do to numeric input before the network: standardisation
(``standardize``) and frame stacking (``frame_stride``, "auto" from the series length)."""

from __future__ import annotations

import numpy as np
import pytest

import rnnfast
from rnnfast import RNNClassifier, RNNRegressor, SequenceTagger
from rnnfast.data.sequences import (
    LEVEL_SCALE_FLOOR,
    Sequences,
    stack_frames,
    standardize_per_sequence,
    standardize_with_level,
)
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


def test_per_sequence_standardization_over_each_sequences_valid_steps():
    lengths = np.array([5, 30, 1, 12])
    padded = RNG.standard_normal((4, 30, 2)) * 3 + 7
    padded[3, :, 1] = 0.1  # a constant feature reads 0, not rounding noise over a tiny std
    got = standardize_per_sequence(Sequences(padded.astype(np.float32), lengths, "list"))
    assert got.values.dtype == np.float32
    for i, n in enumerate(lengths):
        steps = padded[i, :n].astype(np.float32).astype(np.float64)
        std = steps.std(axis=0)
        expected = (steps - steps.mean(axis=0)) / np.where(std > 0, std, 1)
        np.testing.assert_allclose(got.values[i, :n], expected, rtol=1e-6, atol=1e-6)
        assert not got.values[i, n:].any()
    assert not got.values[3, :, 1].any() and not got.values[2].any()


def test_level_channels_give_back_what_z_normalisation_removed():
    lengths = np.array([5, 30, 1, 12])
    padded = RNG.standard_normal((4, 30, 2)) * 3 + 7
    padded[3, :, 1] = 0.1  # constant: its deviation reads as the floor
    seqs = Sequences(padded.astype(np.float32), lengths, "list")
    mean, scale = np.array([7.0, -1.0]), np.array([3.0, 0.5])
    got = standardize_with_level(seqs, mean, scale)
    assert got.values.shape == (4, 30, 6) and got.values.dtype == np.float32
    np.testing.assert_array_equal(got.values[:, :, :2], standardize_per_sequence(seqs).values)
    for i, n in enumerate(lengths):
        steps = padded[i, :n].astype(np.float32).astype(np.float64)
        level_mean = (steps.mean(axis=0) - mean) / scale
        level_scale = np.log(np.maximum(steps.std(axis=0) / scale, LEVEL_SCALE_FLOOR))
        expected = np.broadcast_to(np.concatenate([level_mean, level_scale]), (n, 4))
        np.testing.assert_allclose(got.values[i, :n, 2:], expected, rtol=1e-6, atol=1e-6)
        assert not got.values[i, n:].any()
    assert got.values[3, 0, 5] == np.float32(np.log(LEVEL_SCALE_FLOOR))
    # the series can be rebuilt from the channels: nothing of it is lost
    i, n = 1, lengths[1]
    rebuilt = (
        got.values[i, :n, :2].astype(np.float64) * np.exp(got.values[i, 0, 4:]) * scale
        + got.values[i, 0, 2:4] * scale
        + mean
    )
    np.testing.assert_allclose(rebuilt, padded[i, :n], rtol=1e-5)


def test_level_channels_let_a_classifier_read_levels_that_per_sequence_hides():
    # Two classes of the same shape at different levels: z-normalised they are one class.
    shape = np.sin(np.linspace(0, 6, 30))[None, :, None]
    noise = RNG.standard_normal((40, 30, 1)) * 0.05
    y = np.arange(40) % 2
    series = (shape + noise) * np.where(y == 1, 5.0, 1.0)[:, None, None] + 2.0
    params = dict(max_epochs=30, hidden_size=8, random_state=0)
    hidden = RNNClassifier(standardize="per_sequence", **params).fit(series, y)
    level = RNNClassifier(standardize="per_sequence_level", **params).fit(series, y)
    assert level.network_.input_size == 3
    assert level.score(series, y) == 1.0
    assert hidden.score(series, y) < 0.75


@pytest.mark.parametrize("Estimator", [RNNClassifier, RNNRegressor, SequenceTagger])
def test_per_sequence_standardization_makes_predictions_blind_to_each_series_units(Estimator):
    ragged = [X[i, : 10 + i % 20] for i in range(len(X))]
    if Estimator is SequenceTagger:
        y = [(s[:, 0] > 0).astype(int) for s in ragged]
    else:
        y = Y_CLASS if Estimator is RNNClassifier else X[:, :, 1].mean(axis=1)
    est = Estimator(standardize="per_sequence", **FAST).fit(ragged, y)
    assert not hasattr(est, "_x_mean")
    # every series in its own unit and offset, per feature
    scales = RNG.uniform(0.01, 100, (len(ragged), 2)).astype(np.float32)
    offsets = RNG.uniform(-50, 50, (len(ragged), 2)).astype(np.float32)
    rescaled = [s * a + b for s, a, b in zip(ragged, scales, offsets, strict=True)]
    method = "predict" if Estimator is RNNRegressor else "predict_proba"
    before, after = getattr(est, method)(ragged), getattr(est, method)(rescaled)
    if Estimator is SequenceTagger:
        before, after = np.concatenate(before), np.concatenate(after)
    np.testing.assert_allclose(after, before, rtol=1e-3, atol=1e-4)
    # per-feature (training) statistics do not make it blind
    fixed = Estimator(**FAST).fit(ragged, y)
    fixed_after = getattr(fixed, method)(rescaled)
    if Estimator is SequenceTagger:
        fixed_after = np.concatenate(fixed_after)
    assert not np.allclose(fixed_after, before, atol=1e-2)


@pytest.mark.parametrize(
    ("longest", "expected"),
    [(AUTO_FRAME_STEPS, 1), (AUTO_FRAME_STEPS + 1, 2), (10 * AUTO_FRAME_STEPS, 10)],
)
def test_auto_frame_stride_from_the_longest_training_sequence(longest, expected):
    series = [RNG.standard_normal(longest), RNG.standard_normal(7)]
    clf = RNNClassifier(max_epochs=1, hidden_size=4).fit(series, [0, 1])
    assert clf.frame_stride_ == expected
    # univariate, by default with its two level channels: three inputs per stacked step
    assert clf.network_.input_size == 3 * expected


@pytest.mark.parametrize(("stride", "expected"), [("auto", 3), (2, 2)], ids=["auto", "explicit"])
def test_regressor_stacks_frames_too(stride, expected):
    # RNNRegressor documented frame_stride but ignored it: a 3 x 200-step series ran unstacked
    long = RNG.standard_normal((6, 3 * AUTO_FRAME_STEPS, 2)).astype(np.float32)
    reg = RNNRegressor(frame_stride=stride, **FAST).fit(long, long[:, 0, 0])
    assert reg.frame_stride_ == expected
    assert reg.network_.input_size == 2 * expected
    assert reg.predict(long).shape == (6,)


def test_overlapping_frames_equal_stacking_them_by_hand():
    ragged = [X[i, : 5 + i % 20] for i in range(len(X))]
    params = dict(standardize=False, **FAST)
    framed = RNNClassifier(frame_stride=2, frame_size=5, **params).fit(ragged, Y_CLASS)
    assert (framed.frame_stride_, framed.frame_size_) == (2, 5)
    assert framed.network_.input_size == 10
    by_hand = []
    for s in ragged:  # step k reads input steps [2k, 2k + 5), zeros past the end
        padded = np.concatenate([s, np.zeros((5, 2), np.float32)])
        by_hand.append(np.stack([padded[k : k + 5].reshape(-1) for k in range(0, len(s), 2)]))
    plain = RNNClassifier(frame_stride=1, **params).fit(by_hand, Y_CLASS)
    np.testing.assert_array_equal(framed.predict_proba(ragged), plain.predict_proba(by_hand))


def test_frame_size_none_is_the_stride():
    ragged = [X[i, : 5 + i % 20] for i in range(len(X))]
    a = RNNClassifier(frame_stride=3, **FAST).fit(ragged, Y_CLASS)
    b = RNNClassifier(frame_stride=3, frame_size=3, **FAST).fit(ragged, Y_CLASS)
    assert a.frame_size_ == b.frame_size_ == 3
    np.testing.assert_array_equal(a.predict_proba(ragged), b.predict_proba(ragged))


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
    with pytest.raises(ValueError, match="frame_size=2 stacks numeric steps"):
        RNNClassifier(embedding_dim=4, frame_size=2, **FAST).fit(tokens, [0, 1] * 3)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        (dict(frame_stride=0), ValueError, "frame_stride must be in"),
        (dict(frame_stride="long"), ValueError, "frame_stride must be 'auto' or an int"),
        (dict(frame_stride=2.5), TypeError, "frame_stride must be an integer"),
        (dict(standardize="per_feature"), ValueError, "standardize must be True, False, "),
        (dict(frame_size=0), ValueError, "frame_size must be in"),
        (dict(frame_size=2.5), TypeError, "frame_size must be an integer"),
        (dict(frame_stride=3, frame_size=2), ValueError, "frame_size must be at least"),
        (
            dict(standardize=1.5),
            TypeError,
            "standardize must be True, False, 'per_sequence' or 'per_sequence_level'",
        ),
    ],
)
def test_bad_parameters(params, error, match):
    with pytest.raises(error, match=match):
        RNNClassifier(**params).fit(X, Y_CLASS)


def test_saved_model_keeps_frames_and_statistics(tmp_path):
    long = RNG.standard_normal((8, 3 * AUTO_FRAME_STEPS)) * 20 + 5
    clf = RNNClassifier(frame_size=5, **FAST).fit(long, [0, 1] * 4)
    rnnfast.save(clf, tmp_path / "m.rnnf")
    loaded = rnnfast.load(tmp_path / "m.rnnf")
    assert loaded.frame_stride_ == 3 and loaded.frame_size_ == 5
    np.testing.assert_array_equal(loaded.predict_proba(long), clf.predict_proba(long))


@pytest.mark.parametrize("mode", ["per_sequence", "per_sequence_level"])
def test_saved_model_keeps_per_sequence_standardization(tmp_path, mode):
    clf = RNNClassifier(standardize=mode, **FAST).fit(X * 5 + 3, Y_CLASS)
    rnnfast.save(clf, tmp_path / "m.rnnf")
    loaded = rnnfast.load(tmp_path / "m.rnnf")
    assert loaded.standardize == mode
    np.testing.assert_array_equal(loaded.predict_proba(X * 2), clf.predict_proba(X * 2))


def test_a_refit_fits_the_input_transform_afresh():
    long = RNG.standard_normal((6, 3 * AUTO_FRAME_STEPS)).astype(np.float32)
    clf = RNNClassifier(**FAST).fit(long, [0, 1] * 3)
    assert clf.frame_stride_ == 3 and hasattr(clf, "_x_mean")
    clf.set_params(standardize=False, frame_stride=1).fit(long, [0, 1] * 3)
    assert clf.frame_stride_ == 1 and not hasattr(clf, "_x_mean")
    assert clf.network_.input_size == 1
    clf.set_params(standardize="per_sequence").fit(long, [0, 1] * 3)
    assert not hasattr(clf, "_x_mean")
    clf.set_params(standardize="per_sequence_level").fit(long, [0, 1] * 3)
    assert hasattr(clf, "_x_mean") and clf.network_.input_size == 3


def test_docs_show_each_class_its_own_defaults():
    assert 'pooling : {"last", "mean", "max", "attention"}, default "max"' in RNNClassifier.__doc__
    assert 'default "last"' in RNNRegressor.__doc__
    assert "hidden_size : int, default 64" in RNNClassifier.__doc__
    assert "hidden_size : int, default 32" in RNNRegressor.__doc__
