"""bench/ucr_panel.py, behind the README's defaults table: its loaders and its 1-NN baseline
reproduce the archive's published figures where the conventions agree."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import ucr_panel


# published 1-NN Euclidean test accuracies (UCR archive 2018)
@pytest.mark.parametrize(
    ("name", "published"),
    [("GunPoint", 0.913), ("ArrowHead", 0.800), ("OSULeaf", 0.521), ("ACSF1", 0.540)],
)
def test_euclidean_baseline_matches_the_archive(name, published):
    data = ucr_panel.load(name)
    assert ucr_panel.nearest_neighbour_accuracy(data, "euclidean") == pytest.approx(
        published, abs=5e-4
    )


def test_loaded_splits_are_sequences_and_string_labels():
    data = ucr_panel.load("JapaneseVowels")
    assert len(data.X_train) == 270 and len(data.X_test) == 370
    assert all(x.dtype == np.float32 and x.shape[1] == 12 for x in data.X_train)
    assert data.y_train.dtype.kind == "U" and data.lengths == (7, 29)


def test_bad_arguments():
    with pytest.raises(ValueError, match="name must be one of"):
        ucr_panel.load("NoSuchSet")
    with pytest.raises(ValueError, match="distance must be 'euclidean' or 'dtw'"):
        ucr_panel.nearest_neighbour_accuracy(ucr_panel.load("GunPoint"), "cosine")
