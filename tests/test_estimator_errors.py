"""Every public method of every estimator rejects bad input with a clear, typed error."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from sklearn.exceptions import NotFittedError

from rnnfast import (
    CharRNN,
    RNNAnomalyDetector,
    RNNClassifier,
    RNNForecaster,
    RNNRegressor,
    SequenceScaler,
    SequenceTagger,
)

rng = np.random.default_rng(0)
X = rng.standard_normal((12, 5, 2)).astype(np.float32)
TARGETS = {
    RNNClassifier: np.arange(12) % 2,
    RNNRegressor: rng.standard_normal(12),
    RNNForecaster: rng.standard_normal((12, 3)),
    SequenceTagger: (np.arange(60).reshape(12, 5) % 3),
    RNNAnomalyDetector: None,
}
SUPERVISED = [RNNClassifier, RNNRegressor, RNNForecaster, SequenceTagger]
ALL = [*TARGETS]


def fitted(cls):
    return cls(max_epochs=1, random_state=0).fit(X, TARGETS[cls])


def predictors(est):
    """The methods of ``est`` that take X after fitting."""
    names = ["predict", "predict_proba", "score_samples", "decision_function", "step_scores"]
    return [getattr(est, n) for n in names if hasattr(est, n)]


BAD_X = {
    "nan": (np.where(np.arange(120).reshape(12, 5, 2) == 7, np.nan, X), ValueError, "NaN"),
    "inf": (np.where(np.arange(120).reshape(12, 5, 2) == 7, np.inf, X), ValueError, "infinity"),
    "1d": (np.ones(5), ValueError, "Expected 2D array"),
    "4d": (np.ones((2, 3, 4, 5)), ValueError, "got 4D array"),
    "no_steps": (np.ones((12, 0, 2)), ValueError, "length 0"),
    "no_sequences": (np.ones((0, 5, 2)), ValueError, "0 sample"),
    "empty_list": ([], ValueError, "0 sequences"),
    "ragged_with_empty": (
        [np.ones((3, 2)), np.ones((0, 2))],
        ValueError,
        r"X\[1\] has 0 time steps",
    ),
    "ragged_feature_counts": (
        [np.ones((3, 2)), np.ones((4, 3))],
        ValueError,
        "different feature counts",
    ),
    "strings": (np.array([["a", "b"]] * 12), ValueError, "could not convert"),
    "complex": (X.astype(complex), ValueError, "Complex data not supported"),
    "sparse": (scipy.sparse.csr_matrix(np.ones((12, 5))), TypeError, "sparse"),
}


@pytest.mark.parametrize("case", list(BAD_X))
@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_bad_X_in_fit(cls, case):
    bad, error, message = BAD_X[case]
    with pytest.raises(error, match=message):
        cls(max_epochs=1).fit(bad, TARGETS[cls])


@pytest.mark.parametrize("case", ["nan", "inf", "1d", "4d", "no_steps", "empty_list", "sparse"])
@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_bad_X_after_fit(cls, case):
    est = fitted(cls)
    bad, error, message = BAD_X[case]
    for method in predictors(est):
        with pytest.raises(error, match=message):
            method(bad)


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_feature_count_must_match_fit(cls):
    est = fitted(cls)
    for method in predictors(est):
        with pytest.raises(ValueError, match=r"has 3 features per time step.*expecting 2"):
            method(np.ones((4, 5, 3)))


@pytest.mark.parametrize("cls", [*ALL, SequenceScaler], ids=lambda c: c.__name__)
def test_unfitted_methods_raise_not_fitted(cls):
    est = cls()
    methods = predictors(est) + [getattr(est, m) for m in ("transform", "score") if hasattr(est, m)]
    assert methods
    for method in methods:
        args = (X, TARGETS.get(cls)) if method.__name__ == "score" else (X,)
        with pytest.raises(NotFittedError):
            method(*args)


@pytest.mark.parametrize("cls", SUPERVISED, ids=lambda c: c.__name__)
def test_y_of_wrong_length_or_missing(cls):
    with pytest.raises(ValueError, match="12 sequences"):
        cls(max_epochs=1).fit(X, TARGETS[cls][:-1])
    with pytest.raises(ValueError, match="y to be passed"):
        cls(max_epochs=1).fit(X, None)


@pytest.mark.parametrize("cls", [RNNRegressor, RNNForecaster], ids=lambda c: c.__name__)
def test_regression_targets_must_be_finite(cls):
    y = TARGETS[cls].copy()
    y.flat[3] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        cls(max_epochs=1).fit(X, y)


def test_classifier_label_errors():
    with pytest.raises(ValueError, match="only one class"):
        RNNClassifier(max_epochs=1).fit(X, np.zeros(12))
    with pytest.raises(ValueError, match="Unknown label type"):
        RNNClassifier(max_epochs=1).fit(X, np.linspace(0, 1, 12))
    clf = RNNClassifier(max_epochs=1).partial_fit(X, TARGETS[RNNClassifier], classes=[0, 1])
    with pytest.raises(ValueError, match=r"not seen during fit: \[7\]"):
        clf.partial_fit(X, np.full(12, 7))
    with pytest.raises(ValueError, match=r"not in classes"):
        RNNClassifier().partial_fit(X, np.arange(12) % 3, classes=[0, 1])
    with pytest.raises(ValueError, match="Input y contains NaN"):
        RNNClassifier(max_epochs=1).fit(X, np.where(np.arange(12) == 2, np.nan, np.arange(12) % 2))
    with pytest.raises(ValueError, match="class_weight"):
        RNNClassifier(class_weight="inverse").fit(X, TARGETS[RNNClassifier])
    with pytest.raises(ValueError, match=r"class_weight has labels \[5\]"):
        RNNClassifier(class_weight={5: 2.0}, max_epochs=1).fit(X, TARGETS[RNNClassifier])


def test_tagger_label_errors():
    y = TARGETS[SequenceTagger]
    with pytest.raises(ValueError, match="one label per time step"):
        SequenceTagger(max_epochs=1).fit(X, y[:, :4])
    with pytest.raises(ValueError, match="one label per time step"):
        SequenceTagger(max_epochs=1).fit(X, np.arange(12))
    tagger = fitted(SequenceTagger)
    with pytest.raises(ValueError, match="not seen during fit"):
        tagger.score(X, y + 10)


@pytest.mark.parametrize("cls", [*SUPERVISED, RNNAnomalyDetector], ids=lambda c: c.__name__)
def test_sample_weight_errors(cls):
    with pytest.raises(ValueError, match="sample_weight"):
        cls(max_epochs=1).fit(X, TARGETS[cls], sample_weight=np.ones(11))
    with pytest.raises(ValueError, match=r"[Nn]egative"):
        cls(max_epochs=1).fit(X, TARGETS[cls], sample_weight=-np.ones(12))
    with pytest.raises(ValueError, match=r"non-zero|positive sum"):
        cls(max_epochs=1).fit(X, TARGETS[cls], sample_weight=np.zeros(12))  # sklearn: "non-zero"


INVALID_PARAMS = [
    ("cell", "transformer", ValueError),
    ("hidden_size", 0, ValueError),
    ("hidden_size", 2.5, TypeError),
    ("num_layers", -1, ValueError),
    ("bidirectional", "yes", TypeError),
    ("dropout", 1.0, ValueError),
    ("optimizer", "lbfgs", ValueError),
    ("learning_rate", 0.0, ValueError),
    ("learning_rate", "fast", TypeError),
    ("momentum", 1.5, ValueError),
    ("lr_schedule", "linear", ValueError),
    ("lr_schedule_params", [1], TypeError),
    ("warmup_epochs", -1, ValueError),
    ("weight_decay", -0.1, ValueError),
    ("clip_norm", 0.0, ValueError),
    ("clip_value", -1.0, ValueError),
    ("init", "he", ValueError),
    ("forget_bias", float("nan"), ValueError),
    ("batch_size", 0, ValueError),
    ("max_epochs", 0, ValueError),
    ("early_stopping", 1, TypeError),
    ("validation_fraction", 1.0, ValueError),
    ("patience", 0, ValueError),
    ("verbose", -1, ValueError),
    ("warm_start", None, TypeError),
]


@pytest.mark.parametrize("name, value, error", INVALID_PARAMS, ids=lambda v: str(v))
@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_invalid_hyperparameters(cls, name, value, error):
    with pytest.raises(error, match=name):
        cls(**{name: value}).fit(X, TARGETS[cls])


@pytest.mark.parametrize(
    "cls, name, value",
    [
        (RNNForecaster, "window", 0),
        (RNNForecaster, "horizon", 1.5),
        (RNNAnomalyDetector, "contamination", 0.7),
        (RNNAnomalyDetector, "contamination", "some"),
        (RNNAnomalyDetector, "method", "isolation"),
        (SequenceTagger, "class_weight", "all"),
    ],
)
def test_invalid_task_hyperparameters(cls, name, value):
    with pytest.raises(ValueError, match=name):
        cls(**{name: value}).fit(X, TARGETS[cls])


def test_unknown_constructor_argument():
    with pytest.raises(TypeError, match="unexpected keyword"):
        RNNClassifier(hiden_size=3)


def test_forecaster_series_errors():
    model = RNNForecaster(window=10, horizon=2, max_epochs=1)
    with pytest.raises(ValueError, match="needs at least 12"):
        model.fit_series(np.arange(11.0))
    with pytest.raises(ValueError, match="series must be 1-D"):
        model.fit_series(np.ones((30, 2, 2)))
    with pytest.raises(ValueError, match="NaN"):
        model.fit_series(np.r_[np.arange(29.0), np.nan])
    with pytest.raises(ValueError, match="exog has 20 steps"):
        model.fit_series(np.arange(30.0), exog=np.ones((20, 1)))
    model.fit_series(np.sin(np.arange(40.0)))
    with pytest.raises(ValueError, match="at least window=10"):
        model.forecast(np.arange(5.0))
    with pytest.raises(ValueError, match="variables"):
        model.forecast(np.ones((20, 2)))
    with pytest.raises(ValueError, match="steps"):
        model.forecast(np.arange(20.0), steps=0)


def test_char_rnn_errors():
    with pytest.raises(TypeError, match="text must be a str"):
        CharRNN().fit(["abc"])
    with pytest.raises(ValueError, match="text is empty"):
        CharRNN().fit("")
    with pytest.raises(ValueError, match="seq_length=64 needs at least 65"):
        CharRNN().fit("abc")
    with pytest.raises(ValueError, match="bidirectional"):
        CharRNN(bidirectional=True).fit("ab" * 100)
    with pytest.raises(ValueError, match="seq_length"):
        CharRNN(seq_length=0).fit("ab" * 100)
    with pytest.raises(NotFittedError):
        CharRNN().generate("a")
    with pytest.raises(NotFittedError):
        CharRNN().bits_per_char("ab")
    model = CharRNN(hidden_size=8, seq_length=8, max_epochs=1).fit("abcab" * 20)
    with pytest.raises(ValueError, match=r"not in the training vocabulary: \['z'\]"):
        model.generate("az")
    with pytest.raises(ValueError, match="not in the training vocabulary"):
        model.bits_per_char("zzz")
    with pytest.raises(ValueError, match="temperature"):
        model.generate("a", temperature=0)
    with pytest.raises(ValueError, match="n_chars"):
        model.generate("a", n_chars=-1)
    with pytest.raises(ValueError, match="at least 2 characters"):
        model.bits_per_char("a")


def test_early_stopping_needs_two_sequences():
    with pytest.raises(ValueError, match="at least 2 sequences"):
        RNNRegressor(early_stopping=True).fit(X[:1], [1.0])


@pytest.mark.parametrize(
    "X, error, match",
    [
        # equal lengths, different feature counts: not numpy's "inhomogeneous shape"
        ([np.zeros((5, 3)), np.zeros((5, 4))], ValueError, r"different feature counts \[3, 4\]"),
        (
            [np.zeros((5, 3)), scipy.sparse.csr_matrix(np.ones((5, 3)))],
            TypeError,
            r"X\[1\] is a sparse",
        ),
        ([scipy.sparse.csr_matrix(np.ones((4, 3)))], TypeError, r"X\[0\] is a sparse"),
    ],
    ids=["feature-counts", "sparse-item", "sparse-only-item"],
)
def test_lists_of_mismatched_or_sparse_sequences_are_named(X, error, match):
    with pytest.raises(error, match=match):
        RNNClassifier(max_epochs=1).fit(X, [0, 1][: len(X)])


@pytest.mark.parametrize(
    "X",
    [
        np.random.default_rng(0).standard_normal((3, 5, 2)).astype(np.float32),
        np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32),
        np.random.default_rng(0).standard_normal((3, 6, 2)).astype(np.float32)[:, ::2],  # strided
        np.random.default_rng(0).standard_normal((3, 5, 2)),  # float64: converted
        np.arange(30).reshape(3, 5, 2),  # integers: converted
    ],
)
def test_arrays_skipping_check_array_read_as_it_would_give_them(X):
    # check_sequences returns a float32 array unchanged without calling scikit-learn's
    # check_array (about 90 us a call); the result must be what check_array gives
    from sklearn.utils.validation import check_array

    from rnnfast.data.sequences import check_sequences

    seqs = check_sequences(X)
    expected = check_array(X, ensure_2d=False, allow_nd=True, dtype=np.float32)
    expected = expected[:, :, None] if expected.ndim == 2 else expected
    np.testing.assert_array_equal(seqs.values, expected)
    assert seqs.values.dtype == np.float32 and seqs.values.flags.c_contiguous
    assert seqs.form == ("2d" if X.ndim == 2 else "3d")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_float32_array_with_nan_or_inf_gets_scikit_learns_error(bad):
    from rnnfast.data.sequences import check_sequences

    X = np.zeros((2, 4, 3), np.float32)
    X[1, 2, 0] = bad
    with pytest.raises(ValueError, match=r"Input X contains (NaN|infinity)"):
        check_sequences(X)
