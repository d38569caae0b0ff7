"""sktime's panel formats: nested and multi-index DataFrames are read directly, and a 3-D array
in sktime's (n, channels, time) layout gets a warning that says how to pass it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from rnnfast import RNNClassifier, SequenceScaler

sktime_datasets = pytest.importorskip("sktime.datasets")


@pytest.fixture(scope="module")
def basic_motions():
    X3, y = sktime_datasets.load_basic_motions(split="train", return_type="numpy3D")
    nested, _ = sktime_datasets.load_basic_motions(split="train", return_type="nested_univ")
    multi, _ = sktime_datasets.load_basic_motions(split="train", return_type="pd-multiindex")
    return X3.transpose(0, 2, 1).astype(np.float32), nested, multi, y


@pytest.mark.parametrize("kind", ["nested", "multi-index"])
def test_sktime_dataframes_are_read_as_the_sequences_they_hold(basic_motions, kind):
    ours, nested, multi, y = basic_motions
    frame = nested if kind == "nested" else multi
    params = dict(hidden_size=8, max_epochs=2, random_state=0)
    from_frame = RNNClassifier(**params).fit(frame, y)
    from_array = RNNClassifier(**params).fit(ours, y)
    assert from_frame.n_features_in_ == 6  # channels, not time steps
    np.testing.assert_array_equal(from_frame.predict_proba(frame), from_array.predict_proba(ours))
    assert SequenceScaler().fit(frame).n_features_in_ == 6


def test_ragged_multi_index_frames_keep_each_length():
    rows = [(i, t) for i, length in enumerate([3, 5, 2]) for t in range(length)]
    frame = pd.DataFrame(
        np.arange(20.0).reshape(10, 2), index=pd.MultiIndex.from_tuples(rows), columns=["a", "b"]
    )
    scaled = SequenceScaler().fit_transform(frame)
    assert [len(s) for s in scaled] == [3, 5, 2] and scaled[0].shape == (3, 2)


def test_bad_panel_frames_are_refused():
    nested = pd.DataFrame({"a": [pd.Series([1.0, 2.0])], "b": [pd.Series([1.0])]})
    with pytest.raises(ValueError, match="row 0: its channels have different lengths"):
        SequenceScaler().fit(nested)
    three_levels = pd.DataFrame(
        {"a": [1.0, 2.0]}, index=pd.MultiIndex.from_tuples([(0, 0, 0), (0, 0, 1)])
    )
    with pytest.raises(ValueError, match="3-level row index"):
        SequenceScaler().fit(three_levels)


def test_an_array_in_sktime_layout_gets_a_warning_saying_how_to_pass_it(basic_motions):
    ours, *_ = basic_motions
    channels_first = ours.transpose(0, 2, 1)  # (40, 6, 100) as sktime gives it
    with pytest.warns(UserWarning, match=r"pass X\.transpose\(0, 2, 1\)"):
        SequenceScaler().fit(channels_first)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SequenceScaler().fit(ours)  # (40, 100, 6): time first, no warning
        SequenceScaler().fit(np.zeros((5, 3, 12)))  # few features: no warning
