"""The ``rnnfast`` command (demo, bench, check) and the plotting helpers."""

from __future__ import annotations

import re
import subprocess
import sys

import matplotlib
import numpy as np
import pytest

import rnnfast
from rnnfast.__main__ import main
from rnnfast.plotting import plot_anomalies, plot_forecast, plot_history

matplotlib.use("Agg")


def test_demo_trains_and_reports(capsys):
    assert main(["demo", "--quick"]) == 0
    out = capsys.readouterr().out
    bpc = float(re.search(r"held-out bits per character: ([0-9.]+)", out).group(1))
    assert bpc < 6.0  # uniform guess over the vocabulary: about 6.5
    assert "sample (temperature 0.7)" in out


@pytest.mark.slow
def test_bench_runs_a_quick_subset(capsys):
    assert main(["bench", "--quick", "--cells", "gru", "--max-hidden", "64"]) == 0
    out = capsys.readouterr().out
    assert "measured SGEMM peak" in out and "ratio" in out


def test_console_script_help():
    result = subprocess.run(
        [sys.executable, "-m", "rnnfast", "--help"], capture_output=True, text=True, check=True
    )
    assert "demo" in result.stdout and "bench" in result.stdout


def test_plot_history():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6, 1)).astype(np.float32)
    clf = rnnfast.RNNClassifier(max_epochs=4, hidden_size=4, early_stopping=True, random_state=0)
    clf.fit(X, X[:, 0, 0] > 0)
    ax = plot_history(clf)
    assert list(ax.lines[0].get_ydata()) == clf.loss_curve_
    with pytest.raises(ValueError, match="not fitted"):
        plot_history(rnnfast.RNNClassifier())


def test_plot_forecast_and_anomalies():
    ax = plot_forecast(np.arange(10.0), np.arange(3.0), {"model": np.ones(3)})
    assert len(ax.lines) == 3
    with pytest.raises(ValueError, match="forecast 'bad'"):
        plot_forecast(np.arange(10.0), np.arange(3.0), {"bad": np.ones(4)})
    ax = plot_anomalies(np.arange(5.0), np.array([0, 1, 0, 0, 1], bool))
    assert len(ax.collections[0].get_offsets()) == 2
    with pytest.raises(ValueError, match="flagged"):
        plot_anomalies(np.arange(5.0), np.zeros(4, bool))


def test_plot_history_labels_every_curve_and_reads_a_pipeline():
    from sklearn.pipeline import make_pipeline

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 6, 1)).astype(np.float32)
    model = make_pipeline(
        rnnfast.SequenceScaler(),
        rnnfast.RNNClassifier(max_epochs=4, hidden_size=4, early_stopping=True, random_state=0),
    ).fit(X, X[:, 0, 0] > 0)
    ax = plot_history(model)  # the pipeline's final estimator is drawn
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["training loss", "best epoch", "validation score"]
    assert list(ax.lines[0].get_ydata()) == model[-1].loss_curve_
    with pytest.raises(TypeError, match="estimator must be a fitted rnnfast estimator"):
        plot_history(make_pipeline(rnnfast.SequenceScaler()).fit(X))
