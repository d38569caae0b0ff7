"""The side benchmarks in ``bench/`` run to the end (their timings are never asserted here).

They call the timing helpers of :mod:`rnnfast.benchmark`; when those changed signature, both
scripts died with a TypeError and no test noticed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.slow
@pytest.mark.skipif(not BENCH.is_dir(), reason="needs the source tree (bench/)")
@pytest.mark.parametrize("script", ["bench_ctc.py", "bench_translator.py"])
def test_a_side_benchmark_runs_to_the_end(script):
    done = subprocess.run(
        [sys.executable, str(BENCH / script), "--repeats", "1"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # the "same" column: rnnfast and torch computed the same results on every row
    assert "True" in done.stdout and "False" not in done.stdout


@pytest.mark.slow
@pytest.mark.skipif(not BENCH.is_dir(), reason="needs the source tree (bench/)")
def test_the_reduced_precision_benchmark_runs_to_the_end():
    pytest.importorskip("torch")
    done = subprocess.run(
        [
            *(sys.executable, str(BENCH / "bench_reduced_precision.py")),
            *("--quick", "--hidden", "64", "--batches", "1"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "verdict:" in done.stdout and "lstm  1   64" in done.stdout


@pytest.mark.slow
@pytest.mark.skipif(not BENCH.is_dir(), reason="needs the source tree (bench/)")
def test_the_kernel_benchmarks_build_and_run():
    # bench/micro/*.cpp include the core's headers directly: a change of an interface they use
    # (Int8Weights, parallel_team) must not leave them unbuildable.
    done = subprocess.run(
        [sys.executable, str(BENCH / "bench_kernels.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "int8 product N=512 K=256 rows=1:" in done.stdout
    assert "TeamBarrier" in done.stdout and "omp barrier" in done.stdout
    for cell in ("lstm", "gru", "rnn"):
        assert f"gate math {cell}" in done.stdout


@pytest.mark.skipif(not BENCH.is_dir(), reason="needs the source tree (bench/)")
def test_the_step_split_benchmark_times_both_splits_and_names_the_choice():
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "bench_step_split.py"),
            *"--cells gru --hidden 128 --batches 6 --rounds 1 --steps 4".split(),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    rows = [line.split() for line in lines if line.startswith(("infer", "train"))]
    assert [row[:4] for row in rows] == [["infer", "gru", "128", "6"], ["train", "gru", "128", "6"]]
    assert all(row[9] in ("rows", "columns") and float(row[10]) >= 1.0 for row in rows)


@pytest.mark.skipif(not BENCH.is_dir(), reason="needs the source tree (bench/)")
def test_the_tanh_fit_derives_the_coefficients_the_core_uses():
    done = subprocess.run(
        [sys.executable, str(BENCH / "micro" / "fit_tanh.py")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    source = (BENCH.parent / "csrc" / "core" / "activations.h").read_text()
    for line in done.stdout.splitlines():
        if line.startswith(("P:", "Q:")):
            for coefficient in line[2:].split(","):
                value = float(coefficient)
                if value != 1.0:  # the constant terms, written 1.0f
                    assert f"{abs(value):.9e}f" in source, coefficient
    assert "largest |tanh| 1.0" in done.stdout
