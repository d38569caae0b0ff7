"""Runtime configuration: the report, thread control and the BLAS kernel choice."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import rnnfast
from rnnfast import _blas_loader


def test_show_config_reports_blas_kernel_and_threads(capsys):
    rnnfast.show_config()
    text = capsys.readouterr().out
    for key in ("rnnfast", "blas", "blas_corename", "openmp", "threads"):
        assert f"{key}:" in text
    info = rnnfast.config_info()
    assert info["rnnfast"] == rnnfast.__version__
    assert info["blas_threads_per_block"] == 1
    assert isinstance(info["blas_corename"], str) and info["blas_corename"]


def test_set_num_threads():
    before = rnnfast.config_info()["threads"]
    try:
        rnnfast.set_num_threads(1)
        assert rnnfast.config_info()["threads"] == 1
    finally:
        rnnfast.set_num_threads(before)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="n must be a positive integer"):
            rnnfast.set_num_threads(bad)


def test_threadpoolctl_sees_and_limits_our_threads():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(1, user_api="openmp"):
        assert rnnfast.config_info()["threads"] == 1


def test_coretype_choice(monkeypatch):
    monkeypatch.delenv(_blas_loader.CORETYPE_ENV, raising=False)
    monkeypatch.delenv("OPENBLAS_CORETYPE", raising=False)
    monkeypatch.setattr(_blas_loader.platform, "system", lambda: "Linux")
    monkeypatch.setattr(_blas_loader.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(_blas_loader, "_cpu_flags", lambda: {"avx2", *_blas_loader._AVX512_FLAGS})
    assert _blas_loader.preferred_coretype() == "SkylakeX"
    monkeypatch.setattr(_blas_loader, "_cpu_flags", lambda: {"avx2", "fma"})
    assert _blas_loader.preferred_coretype() is None
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")  # the user's choice wins
    monkeypatch.setattr(_blas_loader, "_cpu_flags", lambda: set(_blas_loader._AVX512_FLAGS))
    assert _blas_loader.preferred_coretype() is None
    monkeypatch.setenv(_blas_loader.CORETYPE_ENV, "Zen")
    assert _blas_loader.preferred_coretype() == "Zen"


def test_loading_leaves_numpy_blas_and_environment_alone():
    """Our kernel choice must not leak into numpy's OpenBLAS or the process environment."""
    script = """
import os, numpy, threadpoolctl
def numpy_blas():
    return [i for i in threadpoolctl.threadpool_info() if "openblas64" in i["filepath"]]
before = numpy_blas()
import rnnfast
assert numpy_blas() == before, (before, numpy_blas())
assert "OPENBLAS_CORETYPE" not in os.environ and "OPENBLAS_NUM_THREADS" not in os.environ
ours = [i for i in threadpoolctl.threadpool_info()
        if i["filepath"].endswith("libscipy_openblas.so")]
assert len(ours) == 1, threadpoolctl.threadpool_info()
print(ours[0]["architecture"], rnnfast.config_info()["blas_corename"])
"""
    # Compared within the child: the parent's own kernel depends on its environment (a machine
    # may set OPENBLAS_CORETYPE for everything it runs).
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    loaded, reported = done.stdout.split()
    assert loaded == reported
