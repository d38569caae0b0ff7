"""Run one rnnfast configuration in a loop, for a profiler to sample (bench/ README notes).

    perf record -g python bench/profile_step.py lstm 100 64 128 256 train --seconds 10
    perf report --no-children --sort symbol

Prints the mean milliseconds per call. ``mode`` is ``train`` (forward + backward, the bench's
training step), ``forward`` (a training-mode forward alone), ``backward`` (backward alone,
repeated on one cached forward) or ``infer`` (forward with no cache).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rnnfast import nn

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cell", choices=list(CELLS))
    parser.add_argument("T", type=int)
    parser.add_argument("B", type=int)
    parser.add_argument("I", type=int)
    parser.add_argument("H", type=int)
    parser.add_argument("mode", choices=["train", "forward", "backward", "infer"])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()

    module = CELLS[args.cell](args.I, args.H, random_state=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.B, args.T, args.I)).astype(np.float32)
    grad = rng.standard_normal((args.B, args.T, args.H)).astype(np.float32)
    module.forward(x)
    calls = {
        "train": lambda: (module.forward(x), module.backward(grad)),
        "forward": lambda: module.forward(x),
        "backward": lambda: module.backward(grad),
        "infer": lambda: module.forward(x, training=False),
    }
    call = calls[args.mode]
    call()  # warm-up
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < args.seconds:
        call()
        n += 1
    print(
        f"{args.cell} {args.mode} T={args.T} B={args.B} I={args.I} H={args.H}: "
        f"{1e3 * (time.perf_counter() - start) / n:.2f} ms per call ({n} calls)"
    )


if __name__ == "__main__":
    main()
