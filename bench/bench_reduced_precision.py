"""Reduced-precision inference side by side: rnnfast's ``freeze(precision=...)`` in float32,
bfloat16 and int8 against torch's float32 module, its dynamic int8 quantization
(``torch.ao.quantization.quantize_dynamic``, fbgemm) and the module in bfloat16
(``module.to(torch.bfloat16)``; torch's bf16 autocast fails on an LSTM on CPUs without bf16
instructions).

    python bench/bench_reduced_precision.py [--quick] [--threads 2] [--rounds 3]
        [--hidden 256 512 1024] [--batches 1 2 4 8 64]

Every peer is timed in processes of its own, the peers taking turns ``--rounds`` times (a
row's time is the median over turns of each turn's median): at these batch sizes one
library's spinning OpenMP threads take the cores from whatever runs next in the same process
(see rnnfast.benchmark_small_batch). Each output is also compared with rnnfast's float32 one,
so the table shows what each precision costs in accuracy beside what it saves in time.

The floor column is the time of reading the reduced weights once per step: T x the int8
W_hh bytes over the read bandwidth the threads reach on a buffer that size (measured here),
the same floor the small-batch section gives for float32.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings

import numpy as np

STEPS, INPUTS = 50, 64
CELLS = ("lstm", "gru")
HIDDEN = (256, 512, 1024)
BATCHES = (1, 2, 4, 8, 64)
PEERS = (
    "rnnfast-float",
    "rnnfast-bfloat16",
    "rnnfast-int8",
    "torch-float",
    "torch-bfloat16",
    "torch-int8",
)
GATES = {"lstm": 4, "gru": 3}
# The issue's targets: int8 at batch 1 at least this much faster than rnnfast's float32, and
# faster than torch's dynamic quantization on every row.
INT8_BATCH1_SPEEDUP = 2.0
ROW_SECONDS = 0.4  # a row's repeats are cut to about this long (the largest rows take 0.2 s)


def _module(cell: str, H: int):
    from rnnfast import nn

    return {"lstm": nn.LSTM, "gru": nn.GRU}[cell](INPUTS, H, random_state=0)


def _input(B: int) -> np.ndarray:
    return np.random.default_rng(3).standard_normal((B, STEPS, INPUTS)).astype(np.float32)


def _torch_runner(module, cell: str, x: np.ndarray, precision: str):
    import torch

    twin = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](
        INPUTS, module.hidden_size, batch_first=True
    )
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in module.state_dict().items()})
    twin.eval()
    if precision == "int8":
        # quantize_dynamic swaps a model's submodules, never the model itself: the recurrent
        # module goes in a container (as in torch's tutorials), or nothing is quantized
        with warnings.catch_warnings():  # torch.ao.quantization's deprecation notice
            warnings.simplefilter("ignore")
            container = torch.ao.quantization.quantize_dynamic(
                torch.nn.Sequential(twin), {torch.nn.LSTM, torch.nn.GRU}, dtype=torch.qint8
            )
        twin = container[0]
        assert "quantized" in type(twin).__module__, type(twin)
    x_t = torch.from_numpy(x)
    if precision == "bfloat16":
        # The module and its input in bfloat16: torch's autocast cannot run an LSTM on a CPU
        # without bf16 instructions (oneDNN has no primitive for it) and leaves GRUs float32.
        twin, x_t = twin.to(torch.bfloat16), x_t.to(torch.bfloat16)

    def run():
        with torch.inference_mode():
            return twin(x_t)[0].float().numpy()

    return run


def runner(peer: str, cell: str, B: int, H: int):
    """A callable running one row's inference in ``peer``."""
    library, precision = peer.split("-")
    module, x = _module(cell, H), _input(B)
    if library == "torch":
        return _torch_runner(module, cell, x, precision)
    served = module.freeze(precision)
    return lambda: served(x, training=False)[0]


def grid(quick: bool, hidden=None, batches=None):
    hidden = hidden or ((256, 1024) if quick else HIDDEN)
    batches = batches or ((1, 8, 64) if quick else BATCHES)
    return [(cell, B, H) for cell in CELLS for H in hidden for B in batches]


def time_peer(peer: str, rows, threads: int) -> dict:
    """In this process: median seconds of every row in ``peer``; for rnnfast's int8 also the
    read bandwidth of each int8 W_hh size."""
    import rnnfast
    from rnnfast.backends import cpu

    if peer.startswith("torch"):
        import torch

        torch.set_num_threads(threads)
    rnnfast.set_num_threads(threads)
    result = {"times": {}, "bandwidth": {}}
    for cell, B, H in rows:
        run = runner(peer, cell, B, H)
        run()
        start = time.perf_counter()
        run()
        once = time.perf_counter() - start
        repeats = int(min(30, max(3, ROW_SECONDS / max(once, 1e-6))))
        spent = []
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            spent.append(time.perf_counter() - start)
        result["times"][f"{cell} {B} {H}"] = statistics.median(spent)
        if peer == "rnnfast-int8":
            w_hh_bytes = GATES[cell] * H * H
            result["bandwidth"][str(w_hh_bytes)] = cpu.read_bandwidth(w_hh_bytes, threads)
    return result


def relative_errors(rows) -> dict:
    """Per row and reduced peer: the output's relative error against rnnfast's float32."""
    errors = {}
    for cell, B, H in rows:
        exact = runner("rnnfast-float", cell, B, H)()
        for peer in PEERS:
            if peer.endswith("float"):
                continue
            approx = runner(peer, cell, B, H)()
            errors[f"{cell} {B} {H} {peer}"] = float(
                np.linalg.norm(approx - exact) / np.linalg.norm(exact)
            )
    return errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller grid, one round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--hidden", type=int, nargs="+", help="hidden sizes (default 256-1024)")
    parser.add_argument("--batches", type=int, nargs="+", help="batch sizes (default 1-64)")
    parser.add_argument("--peer", choices=PEERS, help=argparse.SUPPRESS)  # one turn
    args = parser.parse_args(argv)
    rows = grid(args.quick, args.hidden, args.batches)
    if args.peer:
        print(json.dumps(time_peer(args.peer, rows, args.threads)))
        return 0

    import rnnfast
    from rnnfast.benchmark_small_batch import turns_in_processes

    rounds = 1 if args.quick else args.rounds
    extra = ["--quick"] if args.quick else []
    extra += ["--hidden", *map(str, args.hidden)] if args.hidden else []
    extra += ["--batches", *map(str, args.batches)] if args.batches else []
    turns = turns_in_processes(
        lambda peer: [
            *(sys.executable, __file__, "--peer", peer, "--threads", str(args.threads)),
            *extra,
        ],
        PEERS,
        rounds,
    )
    errors = relative_errors(rows)
    info = rnnfast.config_info()
    print(
        f"reduced-precision inference, T={STEPS}, I={INPUTS}, {args.threads} threads, median "
        f"of {rounds} turns per peer; cpu level {info['cpu_level']}, int8 kernel "
        f"{info['int8_kernel']}, bfloat16 kernel {info['bfloat16_kernel']}"
    )
    print(
        "ms per call; x f32: rnnfast float32 time / this time (speed-up); /torch: this time / "
        "torch's in the same precision; err: relative error of the output against float32; "
        "floor: T x int8 W_hh bytes / measured read bandwidth"
    )
    header = (
        f"{'cell':<4} {'B':>2} {'H':>4} | {'f32':>7} {'bf16':>7} {'int8':>7} | "
        f"{'t f32':>7} {'t bf16':>7} {'t int8':>7} | {'i8 x f32':>8} {'bf x f32':>8} "
        f"{'i8/t i8':>7} {'bf/t bf':>7} {'i8/t f32':>8} | {'err i8':>7} {'t i8':>7} "
        f"{'err bf':>7} {'t bf':>7} | {'floor':>6}"
    )
    print(header)
    print("-" * len(header))
    misses = []
    for cell, B, H in rows:
        key = f"{cell} {B} {H}"
        t = {peer: statistics.median(turn["times"][key] for turn in turns[peer]) for peer in PEERS}
        bandwidth = max(
            turn["bandwidth"][str(GATES[cell] * H * H)] for turn in turns["rnnfast-int8"]
        )
        floor = STEPS * GATES[cell] * H * H / bandwidth
        ms = {peer: 1e3 * value for peer, value in t.items()}
        err = {peer: errors[f"{key} {peer}"] for peer in PEERS if not peer.endswith("float")}
        speedup = t["rnnfast-float"] / t["rnnfast-int8"]
        print(
            f"{cell:<4} {B:>2} {H:>4} | {ms['rnnfast-float']:7.3f} {ms['rnnfast-bfloat16']:7.3f} "
            f"{ms['rnnfast-int8']:7.3f} | {ms['torch-float']:7.3f} {ms['torch-bfloat16']:7.3f} "
            f"{ms['torch-int8']:7.3f} | {speedup:8.2f} "
            f"{t['rnnfast-float'] / t['rnnfast-bfloat16']:8.2f} "
            f"{t['rnnfast-int8'] / t['torch-int8']:7.2f} "
            f"{t['rnnfast-bfloat16'] / t['torch-bfloat16']:7.2f} "
            f"{t['rnnfast-int8'] / t['torch-float']:8.2f} | {err['rnnfast-int8']:7.1e} "
            f"{err['torch-int8']:7.1e} {err['rnnfast-bfloat16']:7.1e} "
            f"{err['torch-bfloat16']:7.1e} | {1e3 * floor:6.3f}",
            flush=True,
        )
        if B == 1 and speedup < INT8_BATCH1_SPEEDUP:
            misses.append(f"{key}: int8 {speedup:.2f}x float32 (target {INT8_BATCH1_SPEEDUP}x)")
        if t["rnnfast-int8"] >= t["torch-int8"]:
            misses.append(f"{key}: int8 {t['rnnfast-int8'] / t['torch-int8']:.2f}x torch's int8")
    print(
        "verdict: int8 batch 1 >= 2x rnnfast float32 and int8 faster than torch's dynamic "
        "quantization on every row: " + ("met" if not misses else "missed on " + "; ".join(misses))
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
