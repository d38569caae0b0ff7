"""The two ways a layer's time loop is shared among threads, each forced, beside the one the
automatic choice takes: how the rule in ``csrc/core/step_split.h`` was measured.

    python bench/bench_step_split.py [--cells lstm gru rnn] [--hidden 128 256 1024]
        [--batches 5 7 8 16] [--modes infer train] [--precision float] [--rounds 7]

Rows split the batch (each thread its samples, no meeting between steps); columns split the
hidden units (each thread its slice of ``W_hh``, a barrier per step). Both compute the same
bits. For each shape, T = 50 and I = 64 (``--input``), the two are timed in alternating turns
in this one process (``--rounds`` turns each, the 20th percentile of repeated calls within a
turn, the median over turns), inference on a frozen module (``--precision`` float, bfloat16
or int8) and training as a forward and backward pass. ``auto`` is the split the automatic
choice takes for the shape on this machine (``rnnfast.backends.cpu.step_split_for``), and the
last column the time it costs against the better of the two.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import rnnfast
from rnnfast import nn
from rnnfast.backends import cpu
from rnnfast.benchmark_small_batch import GATES

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
BYTES_PER_WEIGHT = {"float": 4, "bfloat16": 2, "int8": 1}


def seconds_per_call(call, calls: int) -> float:
    """The 20th percentile of ``calls`` timed calls."""
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 20))


def shape_call(cell: str, hidden: int, batch: int, mode: str, args):
    """The call timed for one shape, and the bytes its packed ``W_hh`` takes."""
    module = CELLS[cell](args.input, hidden, random_state=0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, args.steps, args.input)).astype(np.float32)
    if mode == "train":
        grad = rng.standard_normal((batch, args.steps, hidden)).astype(np.float32)

        def call():
            module.forward(x)
            module.backward(grad)

        return call, GATES[cell] * hidden * hidden * 4
    frozen = module.freeze(args.precision)  # a packed copy; the module itself stays as it was
    w_hh_bytes = GATES[cell] * hidden * hidden * BYTES_PER_WEIGHT[args.precision]
    return (lambda: frozen.forward(x, training=False)), w_hh_bytes


def measure(call, rounds: int) -> dict[str, float]:
    """Median over ``rounds`` alternating turns of each forced split's time per call."""
    calls = max(5, int(0.12 / max(1e-4, seconds_per_call(call, 2))))
    turns = {"rows": [], "columns": []}
    try:
        for _ in range(rounds):
            for split in turns:
                cpu.set_step_split(split)
                turns[split].append(seconds_per_call(call, calls))
    finally:
        cpu.set_step_split("auto")
    return {split: float(np.median(times)) for split, times in turns.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="+", choices=list(CELLS), default=list(CELLS))
    parser.add_argument("--hidden", nargs="+", type=int, default=[64, 128, 256, 1024])
    parser.add_argument("--batches", nargs="+", type=int, default=[5, 7, 8, 16])
    modes = ["infer", "train"]
    parser.add_argument("--modes", nargs="+", choices=modes, default=modes)
    parser.add_argument("--precision", choices=list(BYTES_PER_WEIGHT), default="float")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--input", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args(argv)
    info = rnnfast.config_info()
    print(f"rnnfast {info['rnnfast']}, {info['threads']} threads, CPU level {info['cpu_level']}")
    print(f"column split threshold for batches 5-16: {cpu.column_split_bytes()} bytes of W_hh")
    print(
        f"{'mode':5} {'cell':4} {'H':>5} {'B':>3} | {'rows ms':>9} {'columns ms':>10} "
        f"{'col/rows':>8} | {'auto':7} {'auto/best':>9}"
    )
    for mode in args.modes:
        for cell in args.cells:
            for hidden in args.hidden:
                for batch in args.batches:
                    call, w_hh_bytes = shape_call(cell, hidden, batch, mode, args)
                    ms = measure(call, args.rounds)
                    auto = cpu.step_split_for(batch, hidden, w_hh_bytes, mode == "train")
                    print(
                        f"{mode:5} {cell:4} {hidden:>5} {batch:>3} | {1e3 * ms['rows']:9.3f} "
                        f"{1e3 * ms['columns']:10.3f} {ms['columns'] / ms['rows']:8.2f} | "
                        f"{auto:7} {ms[auto] / min(ms.values()):9.2f}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
