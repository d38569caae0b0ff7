"""Fork safety: a child forked after rnnfast computed (os.fork, multiprocessing's "fork" start
method) computes the same results instead of blocking forever in OpenMP's thread pool.

Each case runs in a fresh interpreter with a timeout, so a hang fails the test instead of the
suite."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.core]  # see both markers in pyproject.toml

PRELUDE = """
import os, sys
import numpy as np
import rnnfast
rnnfast.set_num_threads(2)
x = np.random.default_rng(0).standard_normal((64, 40, 3)).astype(np.float32)
"""

CASES = {
    "os.fork": """
lstm = rnnfast.nn.LSTM(3, 64, random_state=0)
expected = lstm.forward(x, training=False)[0]  # the parent's OpenMP pool now exists
pid = os.fork()
if pid == 0:
    same = np.array_equal(lstm.forward(x, training=False)[0], expected)
    threads = rnnfast.config_info()["threads"]
    os._exit(0 if same and threads == 1 else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
""",
    # batch 2: the parent splits each step by hidden units, a team meeting at a barrier per
    # step (csrc/core/step_split.h); the child runs inline on its one thread, and a team asked
    # for by size (read_bandwidth's two readers) is run inline too instead of hanging
    "os.fork-column-split": """
gru = rnnfast.nn.GRU(3, 64, random_state=0)
small = x[:2]
expected = gru.forward(small, training=False)[0]
y, _ = gru.forward(small)
expected_dx = gru.backward(np.ones_like(y))[0]
pid = os.fork()
if pid == 0:
    same = np.array_equal(gru.forward(small, training=False)[0], expected)
    y, _ = gru.forward(small)
    same_dx = np.array_equal(gru.backward(np.ones_like(y))[0], expected_dx)
    bandwidth = rnnfast.backends.cpu.read_bandwidth(1 << 16, 2, 1)
    os._exit(0 if same and same_dx and bandwidth > 0 else 3)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
""",
    "multiprocessing-fork-pool": """
import multiprocessing
y = (x[:, :, 0].sum(axis=1) > 0).astype(int)
clf = rnnfast.RNNClassifier(hidden_size=64, max_epochs=2, random_state=0).fit(x, y)
expected = clf.predict_proba(x)
with multiprocessing.get_context("fork").Pool(2) as pool:
    results = pool.map(clf.predict_proba, [x, x[:10]])
assert np.array_equal(results[0], expected) and np.array_equal(results[1], expected[:10])
""",
}


@pytest.mark.parametrize("case", list(CASES))
def test_forked_child_computes_instead_of_hanging(case):
    script = textwrap.dedent(PRELUDE) + textwrap.dedent(CASES[case])
    # a session of its own, so a hang is ended with every process it forked
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = process.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        pytest.fail(f"{case}: the forked child hung")
    assert process.returncode == 0, stderr[-2000:]
