"""Runtime CPU dispatch: one core per CPU level, the best one this CPU runs chosen at import,
``RNNFAST_CPU_LEVEL`` forcing another, and no instruction above the baseline in its build.

CI also runs the core's tests with each level this CPU supports forced (``.ci/run``).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import rnnfast
from rnnfast import _dispatch
from rnnfast.backends import cpu

IS_X86 = platform.machine() in ("x86_64", "AMD64")
RUNNABLE = [level for level in _dispatch.built_levels() if _dispatch.runs_here(level)]

# a training step of each cell, printed as JSON: what every level must agree on
PROBE = """
import json, sys
import numpy as np
import rnnfast
from rnnfast import nn
rng = np.random.default_rng(0)
out = {"level": rnnfast.config_info()["cpu_level"]}
for cls in (nn.RNN, nn.LSTM, nn.GRU):
    layer = cls(5, 24, num_layers=2, bidirectional=True, random_state=0)
    x = rng.standard_normal((3, 7, 5)).astype(np.float32)
    y, _ = layer.forward(x, lengths=np.array([7, 4, 1]))
    dx, _ = layer.backward(np.ones_like(y))
    out[cls.__name__] = [y.tolist(), dx.tolist(), layer.grads["weight_hh_l0"].tolist()]
print(json.dumps(out))
"""


def run_probe(level: str) -> dict:
    env = dict(os.environ, RNNFAST_CPU_LEVEL=level)
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_the_loaded_level_is_the_best_this_cpu_runs_unless_forced():
    forced = os.environ.get(_dispatch.LEVEL_ENV, "auto")
    expected = RUNNABLE[0] if forced == "auto" else forced
    assert rnnfast.config_info()["cpu_level"] == expected == cpu._core.cpu_level


def test_show_config_reports_the_levels(capsys):
    rnnfast.show_config()
    out = capsys.readouterr().out
    assert f"cpu_level: {cpu._core.cpu_level}" in out
    assert "cpu_levels_built: " + ", ".join(_dispatch.built_levels()) in out


@pytest.mark.skipif(len(RUNNABLE) < 2, reason="this CPU runs only one built level")
def test_every_level_this_cpu_runs_computes_the_same_training_step():
    results = {level: run_probe(level) for level in RUNNABLE}
    reference = results[RUNNABLE[-1]]  # the baseline: no FMA contraction, narrow vectors
    for level, result in results.items():
        assert result["level"] == level
        for cell in ("RNN", "LSTM", "GRU"):
            for got, want in zip(result[cell], reference[cell], strict=True):
                np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5, err_msg=level)


def test_a_level_is_forced_through_the_environment(monkeypatch):
    monkeypatch.setenv(_dispatch.LEVEL_ENV, RUNNABLE[-1])
    assert _dispatch.select_level() == RUNNABLE[-1]
    monkeypatch.setenv(_dispatch.LEVEL_ENV, " AUTO ")
    assert _dispatch.select_level() == RUNNABLE[0]


@pytest.mark.parametrize(
    ("requested", "message"),
    [("avx3", "must be 'auto' or one of"), ("native", "built only")],
)
def test_unknown_or_unbuilt_levels_are_refused(monkeypatch, requested, message):
    monkeypatch.setattr(_dispatch, "built_levels", lambda: ["avx2", "baseline"])
    with pytest.raises(ValueError, match=message):
        _dispatch.select_level(requested)


def test_a_level_the_cpu_lacks_is_refused_before_it_can_crash(monkeypatch):
    monkeypatch.setattr(_dispatch, "built_levels", lambda: ["avx512", "avx2", "baseline"])
    monkeypatch.setattr(_dispatch, "supported_levels", lambda: ["avx2", "baseline"])
    with pytest.raises(ValueError, match="illegal instruction"):
        _dispatch.select_level("avx512")
    assert _dispatch.select_level("auto") == "avx2"


def test_no_runnable_level_is_an_import_error_saying_what_to_do(monkeypatch):
    monkeypatch.setattr(_dispatch, "built_levels", lambda: ["avx512"])
    monkeypatch.setattr(_dispatch, "supported_levels", lambda: ["baseline"])
    with pytest.raises(ImportError, match="rebuild from source"):
        _dispatch.select_level("auto")


def test_a_forced_level_the_cpu_lacks_fails_the_import_cleanly():
    unsupported = [level for level in ("avx512", "avx2") if level not in RUNNABLE]
    if not unsupported or unsupported[0] not in _dispatch.built_levels():
        pytest.skip("this CPU runs every built level")
    env = dict(os.environ, RNNFAST_CPU_LEVEL=unsupported[0])
    done = subprocess.run(
        [sys.executable, "-c", "import rnnfast"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1  # a Python error, not SIGILL
    assert "ValueError: RNNFAST_CPU_LEVEL" in done.stderr


def test_disabling_an_unknown_cpu_feature_fails_the_import_naming_the_variable():
    # The core ignores names it does not check for; a misspelt one would silently keep the
    # instruction on, so the import refuses it.
    env = dict(os.environ, RNNFAST_DISABLE_CPU_FEATURES="avx512_vnni")
    done = subprocess.run(
        [sys.executable, "-c", "import rnnfast"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "ValueError: RNNFAST_DISABLE_CPU_FEATURES" in done.stderr
    assert _dispatch.disabled_features("avx512bf16,avx512vnni") == ["avx512bf16", "avx512vnni"]
    assert _dispatch.disabled_features("") == []


def _core_file(level: str) -> Path:
    import importlib.util

    return Path(importlib.util.find_spec(f"rnnfast._core_{level}").origin)


@pytest.mark.skipif(not IS_X86, reason="x86-64 levels")
def test_each_level_uses_only_its_own_instructions():
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils, which the compiler needs) is missing"
    built = _dispatch.built_levels()
    assert {"baseline", "avx2", "avx512"} <= set(built) or built == ["native"]
    for level, wide, wider in (("baseline", 0, 0), ("avx2", 1, 0), ("avx512", 1, 1)):
        if level not in built:
            continue
        text = subprocess.run(
            [objdump, "-d", "--no-show-raw-insn", str(_core_file(level))],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert ("%ymm" in text) == bool(wide), level  # AVX registers
        assert ("%zmm" in text) == bool(wider), level  # AVX-512 registers
