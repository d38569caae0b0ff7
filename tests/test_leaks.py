"""No memory growth over repeated fit/predict (native buffers are freed with their arrays)."""

from __future__ import annotations

import gc
import resource

import numpy as np
import pytest

import rnnfast

pytestmark = pytest.mark.slow  # minutes: see the `slow` marker in pyproject.toml


def resident_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize() / 2**20


def test_repeated_fit_predict_does_not_grow_memory():
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 4)).astype(np.float32) for n in rng.integers(5, 60, size=32)]
    y = np.array([s[:, 0].sum() > 0 for s in X])

    def cycle():
        for cell in ("lstm", "gru", "rnn"):
            model = rnnfast.RNNClassifier(
                cell=cell,
                hidden_size=32,
                num_layers=2,
                bidirectional=True,
                max_epochs=1,
                random_state=0,
            )
            model.fit(X, y).predict_proba(X)
        gc.collect()

    for _ in range(3):  # warm up allocator pools, BLAS buffers, import caches
        cycle()
    before = resident_mib()
    for _ in range(20):
        cycle()
    growth = resident_mib() - before
    # 60 fits that each allocate ~10 MiB of caches; a leak of one cache per fit would show
    # as hundreds of MiB.
    print(f"growth {growth:.2f} MiB")
    assert growth < 8, f"resident memory grew by {growth:.1f} MiB"
