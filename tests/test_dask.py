"""Scale-out on dask.distributed: a GridSearchCV on a local process cluster equals the same
search run locally; worker threads are bounded; one forecaster per series across workers."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from dask.distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score

import rnnfast
import rnnfast.dask
from rnnfast.panel import fit_per_series, forecast_per_series

pytestmark = pytest.mark.slow  # long: see the `slow` marker in pyproject.toml

RNG = np.random.default_rng(0)
X = RNG.standard_normal((60, 8, 1)).astype(np.float32)
Y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
GRID = {"cell": ["lstm", "gru"], "learning_rate": [0.01, 0.03]}
PANEL = {
    f"series-{k}": np.sin(np.arange(120) / (3 + k)) + 0.1 * RNG.standard_normal(120)
    for k in range(3)
}


def search():
    estimator = rnnfast.RNNClassifier(max_epochs=3, hidden_size=8, random_state=0)
    return GridSearchCV(estimator, GRID, cv=2, n_jobs=-1)


@pytest.fixture(scope="module")
def client():
    # processes on loopback only; without the nanny's OMP_NUM_THREADS=1 so that the thread
    # limit below is rnnfast's own doing
    import dask

    with dask.config.set({"distributed.nanny.pre-spawn-environ": {}}):
        with (
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client


def test_grid_search_on_cluster_matches_local(client):
    local = search().fit(X, Y)
    with joblib.parallel_config(backend="dask"):
        distributed = search().fit(X, Y)
    # the fits ran in the workers' processes, not here
    assert client.run(lambda: True)
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        assert np.array_equal(distributed.cv_results_[key], local.cv_results_[key]), key
    assert distributed.best_params_ == local.best_params_
    assert np.array_equal(
        distributed.best_estimator_.predict_proba(X), local.best_estimator_.predict_proba(X)
    )


def test_cross_val_score_and_randomized_search_on_cluster(client):
    estimator = rnnfast.RNNClassifier(max_epochs=2, hidden_size=8, random_state=0)
    randomized = RandomizedSearchCV(estimator, GRID, n_iter=2, cv=2, random_state=0, n_jobs=-1)
    local_scores = cross_val_score(estimator, X, Y, cv=3)
    local_search = randomized.fit(X, Y).cv_results_["mean_test_score"]
    with joblib.parallel_config(backend="dask"):
        scores = cross_val_score(estimator, X, Y, cv=3, n_jobs=-1)
        searched = randomized.fit(X, Y).cv_results_["mean_test_score"]
    assert np.array_equal(scores, local_scores)
    assert np.array_equal(searched, local_search)


def test_worker_threads_are_bounded(client):
    threads_in_task = lambda: rnnfast.config_info()["threads"]  # noqa: E731
    rnnfast.dask.limit_worker_threads(client, threads_per_task=1)
    # every task thread of every worker now computes with one thread
    results = client.gather([client.submit(threads_in_task, pure=False) for _ in range(6)])
    assert results == [1] * 6
    with pytest.raises(ValueError, match="threads_per_task"):
        rnnfast.dask.ThreadLimit(0)


def test_fit_per_series_on_cluster_matches_local(client):
    template = rnnfast.RNNForecaster(window=12, max_epochs=3, hidden_size=8, random_state=0)
    local = fit_per_series(template, PANEL)
    with joblib.parallel_config(backend="dask"):
        remote = fit_per_series(template, PANEL)
    assert list(remote) == list(PANEL)
    local_forecasts = forecast_per_series(local, PANEL, steps=5)
    remote_forecasts = forecast_per_series(remote, PANEL, steps=5)
    for key in PANEL:
        assert remote_forecasts[key].shape == (5,)
        assert np.array_equal(remote_forecasts[key], local_forecasts[key])
    assert not hasattr(template, "network_")  # the template is cloned, never fitted


def test_panel_helper_errors():
    template = rnnfast.RNNForecaster(window=12)
    with pytest.raises(TypeError, match="panel must be a non-empty mapping"):
        fit_per_series(template, [np.arange(50.0)])
    with pytest.raises(ValueError, match="exog must be a mapping"):
        fit_per_series(template, PANEL, exog={"other": np.zeros((120, 1))})
    with pytest.raises(TypeError, match="RNNForecaster"):
        fit_per_series(rnnfast.RNNRegressor(), PANEL)
    with pytest.raises(ValueError, match="no fitted model"):
        forecast_per_series({}, PANEL)
