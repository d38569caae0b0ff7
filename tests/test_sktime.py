"""rnnfast inside sktime: the adapters pass sktime's own estimator checks, and sktime's
``evaluate`` (clone-based backtesting) runs on the forecaster."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("sktime")

from sktime.datasets import load_airline, load_basic_motions
from sktime.utils.estimator_checks import check_estimator

from rnnfast import RNNClassifier, RNNForecaster
from rnnfast.sktime import (
    SktimeRNNClassifier,
    SktimeRNNForecaster,
    SktimeRNNRegressor,
    as_sktime_classifier,
    as_sktime_forecaster,
    as_sktime_regressor,
)


@pytest.mark.slow
@pytest.mark.parametrize("adapter", [SktimeRNNClassifier, SktimeRNNRegressor, SktimeRNNForecaster])
def test_sktime_check_estimator_passes(adapter):
    """Every check sktime runs on its own estimators (258, 146 and 690 of them), no
    expected failures."""
    with warnings.catch_warnings():
        # pandas 3 deprecation raised inside sktime's own update_predict (its
        # _format_moving_cutoff_predictions concatenates without sort=), not in rnnfast
        warnings.filterwarnings("ignore", message="Sorting by default when concatenating")
        results = check_estimator(adapter, raise_exceptions=False)
    failed = {name: str(outcome)[:300] for name, outcome in results.items() if outcome != "PASSED"}
    assert len(results) > 100 and not failed


def test_tags_say_what_rnnfast_does():
    clf = as_sktime_classifier()
    assert clf.get_tag("capability:multivariate") and clf.get_tag("capability:unequal_length")
    assert clf.get_tag("capability:predict_proba")
    assert as_sktime_regressor().get_tag("capability:unequal_length")
    assert isinstance(as_sktime_forecaster(), SktimeRNNForecaster)


def test_the_classifier_adapter_reads_sktime_panels_as_channels():
    X, y = load_basic_motions(split="train")  # nested DataFrame: 40 x 6 channels x 100 steps
    estimator = RNNClassifier(hidden_size=8, max_epochs=2, random_state=0)
    adapter = SktimeRNNClassifier(estimator).fit(X, y)
    assert adapter.estimator_.n_features_in_ == 6
    direct = estimator.fit(X, y)  # the estimator reads the same nested frame directly
    np.testing.assert_array_equal(adapter.predict_proba(X), direct.predict_proba(X))


def test_evaluate_backtests_the_forecaster():
    from sktime.forecasting.model_evaluation import evaluate
    from sktime.performance_metrics.forecasting import MeanAbsolutePercentageError
    from sktime.split import ExpandingWindowSplitter

    y = load_airline()
    forecaster = SktimeRNNForecaster(
        RNNForecaster(window=24, hidden_size=16, max_epochs=20, random_state=0)
    )
    splitter = ExpandingWindowSplitter(fh=[1, 2, 3], initial_window=96, step_length=12)
    results = evaluate(forecaster, splitter, y, scoring=MeanAbsolutePercentageError())
    assert len(results) == 4  # folds at 96, 108, 120, 132 months
    errors = results["test_MeanAbsolutePercentageError"]
    assert np.isfinite(errors).all() and errors.mean() < 0.25
