"""The small-batch section of ``rnnfast bench``: its timing turn, its floor and its verdict
(the timings themselves are the benchmark's, never asserted here)."""

from __future__ import annotations

import pytest

from rnnfast import benchmark_small_batch as small
from rnnfast.backends import cpu


def test_a_turn_times_every_row_and_measures_each_floor(monkeypatch):
    monkeypatch.setattr(small, "HIDDEN", (32, 48))
    monkeypatch.setattr(small, "BATCHES", (1, 3))
    result = small.time_peer("rnnfast", ["rnn", "gru"], repeats=1, threads=1)
    assert set(result["times"]) == {
        f"{cell} {B} {H}" for cell in ("rnn", "gru") for H in (32, 48) for B in (1, 3)
    }
    assert all(t > 0 for t in result["times"].values())
    # one bandwidth per W_hh size: G * H * H floats
    assert set(result["bandwidth"]) == {str(g * h * h * 4) for g in (1, 3) for h in (32, 48)}
    assert all(b > 1e8 for b in result["bandwidth"].values())  # over 0.1 GB/s: really read


def row(ours, ort, torch):
    return small.SmallBatchRow(
        "lstm", 1, 128, module=2 * ours, ours=ours, ort=ort, torch=torch, floor=0.1, agree=True
    )


def test_a_frozen_turn_times_the_packed_once_copy(monkeypatch):
    monkeypatch.setattr(small, "HIDDEN", (32,))
    monkeypatch.setattr(small, "BATCHES", (1,))
    result = small.time_peer("rnnfast-frozen", ["lstm"], repeats=1, threads=1)
    assert list(result["times"]) == ["lstm 1 32"] and result["times"]["lstm 1 32"] > 0


def test_the_verdict_names_each_missed_row_and_its_floor():
    assert "MET on all 1 rows" in small.small_batch_verdict([row(1.0, 2.0, 3.0)])
    missed = small.small_batch_verdict([row(1.0, 2.0, 3.0), row(1.0, 1.0, 1.5)])
    assert "MISSED on 1 of 2" in missed
    assert "1.00x ort" in missed and "0.67x torch" in missed and "10.0x floor" in missed
    assert "beyond the machine" not in missed
    # a target below the floor (0.6 x 0.15 s = 0.09 s < 0.1 s) is beyond the machine
    below = small.small_batch_verdict([row(0.2, 0.15, 1.0)])
    assert "2.0x floor; the target 90.000 ms is below it: beyond the machine" in below
    assert "onnxruntime not installed" in small.small_batch_verdict([row(1.0, None, 3.0)])
    assert small.small_batch_verdict([]).endswith("not measured")


def test_read_bandwidth_checks_its_arguments():
    with pytest.raises(ValueError, match="must be positive"):
        cpu.read_bandwidth(0, 1)
