"""``python -m rnnfast`` / ``rnnfast``: report the configuration and time a training step."""

from __future__ import annotations

import argparse
import time

import numpy as np

import rnnfast
from rnnfast.nn import GRU, LSTM, RNN


def _self_check() -> float:
    """Largest relative error of a float64 finite-difference check on a tiny LSTM."""
    rng = np.random.default_rng(0)
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True, dtype=np.float64, random_state=0)
    x = rng.standard_normal((2, 5, 3))
    weights = rng.standard_normal((2, 5, 8))
    lstm.forward(x)
    grad_x, _ = lstm.backward(weights)
    eps, worst = 1e-6, 0.0
    for index in [(0, 0, 0), (1, 4, 2), (0, 2, 1)]:
        shifted = x.copy()
        shifted[index] += eps
        up = (lstm.forward(shifted, training=False)[0] * weights).sum()
        shifted[index] -= 2 * eps
        down = (lstm.forward(shifted, training=False)[0] * weights).sum()
        numeric = (up - down) / (2 * eps)
        worst = max(worst, abs(numeric - grad_x[index]) / max(1e-12, abs(numeric)))
    return worst


def _time_training_step(cell: type, time_steps: int, batch: int, features: int, hidden: int):
    rng = np.random.default_rng(0)
    net = cell(features, hidden, random_state=0)
    x = rng.standard_normal((batch, time_steps, features)).astype(np.float32)
    grad = rng.standard_normal((batch, time_steps, hidden)).astype(np.float32)
    times = []
    for _ in range(5):
        start = time.perf_counter()
        net.forward(x)
        net.backward(grad)
        times.append(time.perf_counter() - start)
    return float(np.median(times[1:]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnnfast", description=__doc__)
    parser.parse_args(argv)
    rnnfast.show_config()
    print(f"\nself-check: finite-difference relative error {_self_check():.2e} (float64 LSTM)")
    print("\ntraining step (forward + BPTT), T=100 B=64 I=64 H=128, float32:")
    for cell in (LSTM, GRU, RNN):
        print(f"  {cell.__name__:>4}: {1e3 * _time_training_step(cell, 100, 64, 64, 128):7.2f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
