"""The compiled CPU levels side by side: the same forward and training step of each cell with
each level this CPU runs forced (``RNNFAST_CPU_LEVEL``), one fresh process per level.

    python bench/bench_cpu_levels.py [--repeats 7]

Prints the median time of each shape at each level and its ratio to the best level, so the
cost of running the portable baseline (no AVX, no FMA) is measured rather than guessed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from rnnfast import _dispatch

# (cell, T, B, I, H)
SHAPES = [("lstm", 50, 64, 64, 256), ("gru", 50, 128, 64, 512), ("lstm", 50, 8, 64, 128)]

PROBE = """
import json, sys, time
import numpy as np
import rnnfast
from rnnfast import nn

repeats, shapes = int(sys.argv[1]), json.loads(sys.argv[2])
rng = np.random.default_rng(0)
out = {"level": rnnfast.config_info()["cpu_level"], "times": []}
for cell, T, B, I, H in shapes:
    module = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](I, H, random_state=0)
    x = rng.standard_normal((B, T, I)).astype(np.float32)
    grad = np.ones((B, T, H), np.float32)
    for training in (False, True):
        def step():
            y, _ = module.forward(x, training=training)
            if training:
                module.backward(grad)
        step()  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
        out["times"].append(float(np.median(times)))
print(json.dumps(out))
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    levels = [level for level in _dispatch.built_levels() if _dispatch.runs_here(level)]
    results = {}
    for level in levels:
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(args.repeats), json.dumps(SHAPES)],
            env=dict(os.environ, RNNFAST_CPU_LEVEL=level),
            capture_output=True,
            text=True,
            check=True,
        )
        results[level] = json.loads(done.stdout)["times"]
    print(
        f"levels this CPU runs: {', '.join(levels)} (built: {', '.join(_dispatch.built_levels())})"
    )
    header = f"{'shape (cell T B I H)':28} {'mode':6}" + "".join(f"{lv:>18}" for lv in levels)
    print(header)
    best = levels[0]
    for i, shape in enumerate(SHAPES):
        for j, mode in enumerate(("infer", "train")):
            k = 2 * i + j
            cells = "".join(
                f"{results[lv][k] * 1e3:9.2f} ms {results[lv][k] / results[best][k]:5.2f}x"
                for lv in levels
            )
            print(f"{' '.join(map(str, shape)):28} {mode:6}{cells}")
    print(f"(median of {args.repeats}; ratio to {best}, the level chosen by default)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
