"""rnnfast vs PyTorch and onnxruntime on the CPU, side by side in one run (the protocol:
docs/performance.md).

For every shape of the grid and every cell: same weights, same data; first a check, in this
process, that rnnfast, torch and onnxruntime compute the same outputs (and rnnfast and torch
the same input gradients), so a fast wrong answer cannot look good; then each library is
timed in processes of its own, taking turns (torch's OpenMP threads spin after each of its
calls and would slow whatever ran next in the same process). Prints median times, the ratios
to torch and onnxruntime, the GFLOP/s rnnfast achieved and its fraction of this machine's
measured SGEMM peak.

    rnnfast bench                        # full grid, training step and inference
    rnnfast bench --quick                # fewer repetitions, for a smoke run
    python bench/bench_rnn.py [--quick]  # the same, from a checkout

It also times batch 1-8 inference against onnxruntime and torch beside each row's bandwidth
floor (:mod:`rnnfast.benchmark_small_batch`), streaming (one step of a batch-1 sequence:
``module.stream().step`` against torch's module called per step with its state, alternating
in this process), measures the peak resident memory of a training step of each library in
fresh processes, and ends with one verdict line per target of the performance issue; a
missed speed target states the GFLOP/s it would need, as a share of the measured SGEMM peak,
so a target beyond the machine shows as such.

Importing this module imports PyTorch (the peer it measures against).
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

import rnnfast
from rnnfast import nn
from rnnfast.benchmark_small_batch import (
    bench_estimator_serving,
    bench_small_batch,
    median_alternating,
    median_seconds,
    onnxruntime_runner,
    print_estimator_serving,
    print_small_batch,
    small_batch_verdict,
    threads_in_use,
    turns_in_processes,
)

try:
    import torch
except ImportError as exc:  # pragma: no cover - the bench needs its peer
    raise ImportError("the benchmark compares against PyTorch: pip install torch==2.13.0") from exc

# (T, B, I, H): the benchmark grid, plus batch-1 streaming.
GRID = [
    (100, 32, 32, 64),
    (100, 64, 64, 128),
    (100, 64, 128, 256),
    (50, 64, 512, 512),
    (20, 256, 1024, 1024),
    (200, 1, 16, 64),
]
# One step of one sequence: (batch, input, hidden) of the streaming target.
STREAM_SHAPE = (1, 16, 64)
# Targets of the performance issue (ratio = rnnfast time / torch time): training at H <= 256
# and H >= 512, inference at batch >= 32 (smaller batches have a section of their own) likewise.
TRAIN_TARGET_SMALL, TRAIN_TARGET_LARGE = 0.6, 0.9
INFER_TARGET_SMALL, INFER_TARGET_LARGE, INFER_TARGET_MIN_BATCH = 0.6, 0.95, 32
STREAM_TARGET_SPEEDUP, EFFICIENCY_TARGET = 10.0, 0.80
CELLS = {
    "lstm": (nn.LSTM, torch.nn.LSTM, 4),
    "gru": (nn.GRU, torch.nn.GRU, 3),
    "rnn": (nn.RNN, torch.nn.RNN, 1),
}


@dataclass
class Config:
    cell: str
    T: int
    B: int
    I: int  # noqa: E741  (the shape vocabulary: T, B, I, H)
    H: int
    layers: int = 1
    bidirectional: bool = False

    @property
    def label(self) -> str:
        extra = f" L{self.layers}{' bi' if self.bidirectional else ''}"
        return f"{self.cell:<4} T={self.T:<3} B={self.B:<3} I={self.I:<4} H={self.H:<4}{extra}"

    def forward_flops(self) -> float:
        """GEMM flops of one forward: 2 * T * B * G*H * (in + H) per layer and direction."""
        gates = CELLS[self.cell][2]
        dirs = 2 if self.bidirectional else 1
        total = 0.0
        for layer in range(self.layers):
            layer_in = self.I if layer == 0 else self.H * dirs
            total += dirs * 2.0 * self.T * self.B * gates * self.H * (layer_in + self.H)
        return total


def measure_sgemm_peak(n: int = 2048, repeats: int = 10) -> tuple[float, str]:
    """SGEMM GFLOP/s of rnnfast's own OpenBLAS (its chosen kernel) on all cores, best run."""
    import scipy_openblas32

    path = sorted(glob.glob(os.path.join(scipy_openblas32.get_lib_dir(), "lib*.so*")))[0]
    lib = ctypes.CDLL(path)  # the already loaded library, kernel chosen at rnnfast's import
    lib.scipy_openblas_get_corename.restype = ctypes.c_char_p
    ptr = ctypes.c_void_p
    sgemm = lib.scipy_cblas_sgemm
    sgemm.argtypes = [ctypes.c_int] * 6 + [
        ctypes.c_float,
        ptr,
        ctypes.c_int,
        ptr,
        ctypes.c_int,
        ctypes.c_float,
        ptr,
        ctypes.c_int,
    ]
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    c = np.empty_like(a)
    threads = lib.scipy_openblas_get_num_threads()
    lib.scipy_openblas_set_num_threads(os.cpu_count() or 1)
    try:
        times = []
        for _ in range(repeats + 1):
            start = time.perf_counter()
            sgemm(
                101,
                111,
                111,
                n,
                n,
                n,
                1.0,
                a.ctypes.data,
                n,
                a.ctypes.data,
                n,
                0.0,
                c.ctypes.data,
                n,
            )
            times.append(time.perf_counter() - start)
    finally:
        lib.scipy_openblas_set_num_threads(threads)
    np.testing.assert_allclose(c[:4, :4], (a[:4] @ a[:, :4]), rtol=1e-3, atol=1e-2)
    return 2.0 * n**3 / min(times[1:]) / 1e9, lib.scipy_openblas_get_corename().decode()


def build_pair(cfg: Config):
    ours_cls, torch_cls, _ = CELLS[cfg.cell]
    ours = ours_cls(cfg.I, cfg.H, cfg.layers, bidirectional=cfg.bidirectional, random_state=0)
    theirs = torch_cls(cfg.I, cfg.H, cfg.layers, bidirectional=cfg.bidirectional, batch_first=True)
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    return ours, theirs


def config_runners(cfg: Config, peers) -> dict:
    """``{peer: {mode: callable}}`` for the configuration: a training step (forward and
    backward) and an inference forward for rnnfast and torch, inference for onnxruntime (left
    out when it is not installed), each on the same weights and data."""
    rng = np.random.default_rng(1)
    ours, theirs = build_pair(cfg)
    width = cfg.H * (2 if cfg.bidirectional else 1)
    x = rng.standard_normal((cfg.B, cfg.T, cfg.I)).astype(np.float32)
    grad = rng.standard_normal((cfg.B, cfg.T, width)).astype(np.float32)
    x_t, grad_t = torch.from_numpy(x), torch.from_numpy(grad)

    def ours_train():
        out, _ = ours.forward(x)
        return out, ours.backward(grad)[0]

    def torch_train():
        theirs.zero_grad(set_to_none=True)
        xt = x_t.clone().requires_grad_(True)
        out, _ = theirs(xt)
        (out * grad_t).sum().backward()
        return out, xt.grad

    def ours_infer():
        return ours.forward(x, training=False)[0]

    def torch_infer():
        with torch.inference_mode():
            return theirs(x_t)[0]

    runners = {
        "rnnfast": {"train": ours_train, "infer": ours_infer},
        "torch": {"train": torch_train, "infer": torch_infer},
    }
    if "onnxruntime" in peers:
        ort_infer = onnxruntime_runner(ours, x, threads_in_use())
        if ort_infer is not None:
            runners["onnxruntime"] = {"infer": ort_infer}
    return {peer: modes for peer, modes in runners.items() if peer in peers}


def check_config(cfg: Config) -> bool:
    """Whether rnnfast, torch (outputs and input gradients) and onnxruntime (outputs) agree."""
    runners = config_runners(cfg, GRID_PEERS)
    out_a, gx_a = runners["rnnfast"]["train"]()
    out_b, gx_b = runners["torch"]["train"]()
    expected = runners["torch"]["infer"]().numpy()
    scale = max(1.0, float(np.abs(gx_b.numpy()).max()))
    agree = (
        np.allclose(out_a, out_b.detach().numpy(), rtol=1e-3, atol=1e-4)
        and np.allclose(gx_a, gx_b.numpy(), rtol=1e-3, atol=1e-4 * scale)
        and np.allclose(runners["rnnfast"]["infer"](), expected, rtol=1e-3, atol=1e-4)
    )
    if "onnxruntime" in runners:
        ort_out = runners["onnxruntime"]["infer"]()
        agree = agree and np.allclose(ort_out, expected, rtol=1e-3, atol=1e-4)
    return bool(agree)


# The grid times each library in processes of its own, taking turns GRID_ROUNDS times (a row
# is the median over turns of each turn's median): in one process torch's OpenMP threads
# spin for milliseconds after each of its calls and took the cores from the run that followed
# (an RNN H = 128 batch-64 inference read 18.8 ms for rnnfast after torch, 6.2 alone).
GRID_PEERS = ("rnnfast", "torch", "onnxruntime")
GRID_ROUNDS = 3


def time_turn(peer: str, cfgs: list[Config], repeats: int) -> dict:
    """In this process: median seconds of ``repeats`` runs (after one warm-up) of each
    configuration and mode in ``peer``, keyed ``"label|mode"``."""
    times = {}
    for cfg in cfgs:
        for mode, run in config_runners(cfg, (peer,)).get(peer, {}).items():
            times[f"{cfg.label}|{mode}"] = median_seconds(run, repeats)
    return times


def time_grid(cells: list[str], max_hidden, repeats: int) -> dict:
    """``{"label|mode": {peer: seconds or None}}`` over GRID_ROUNDS turns of each peer."""
    hidden = [] if max_hidden is None else ["--max-hidden", str(max_hidden)]
    turns = turns_in_processes(
        lambda peer: [
            *(sys.executable, "-m", "rnnfast.benchmark", "--time-turn", peer),
            *("--turn-repeats", str(repeats), "--cells", *cells, *hidden),
        ],
        GRID_PEERS,
        GRID_ROUNDS,
    )
    keys = {key for turn in turns["rnnfast"] for key in turn}
    return {
        key: {
            peer: statistics.median([turn[key] for turn in turns[peer]])
            if all(key in turn for turn in turns[peer])
            else None
            for peer in GRID_PEERS
        }
        for key in keys
    }


def bench_streaming(cell: str, steps: int = 2000, repeats: int = 5) -> dict:
    """Seconds per step: ``stream.step`` vs torch's module called per step with its state."""
    batch, inputs, hidden = STREAM_SHAPE
    ours, theirs = build_pair(Config(cell, 1, batch, inputs, hidden))
    xs = np.random.default_rng(2).standard_normal((steps, batch, inputs)).astype(np.float32)
    xs_t = torch.from_numpy(xs[:, :, None, :])  # torch's batch-first (batch, time=1, input)

    def run_ours():
        stream = ours.stream(batch_size=batch)
        return [stream.step(x) for x in xs]

    def run_torch():
        state, outs = None, []
        with torch.inference_mode():
            for x in xs_t:
                out, state = theirs(x, state)
                outs.append(out[:, 0])
        return outs

    agree = bool(
        np.allclose(
            np.stack(run_ours()[:50]),
            np.stack([o.numpy() for o in run_torch()[:50]]),
            rtol=1e-3,
            atol=1e-4,
        )
    )
    t_ours, t_torch = median_alternating([run_ours, run_torch], repeats)
    return {"cell": cell, "ours": t_ours / steps, "torch": t_torch / steps, "agree": agree}


# glibc returns a freed block above its mmap threshold to the system, but raises the threshold
# when such a block is freed, so later blocks of that size stay in the heap once freed: a
# warm-up would then hide a step's allocations from RSS in either library. A fixed threshold
# keeps the measurement about the step.
_PROBE_ENV = {"MALLOC_MMAP_THRESHOLD_": "131072"}


def _status_mib(key: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def _memory_probe(peer: str, cfg: Config) -> float:
    """Peak RSS growth (MiB) of one training step, after a warm-up step on another module."""
    import gc

    rng = np.random.default_rng(1)
    width = cfg.H * (2 if cfg.bidirectional else 1)
    x = rng.standard_normal((cfg.B, cfg.T, cfg.I)).astype(np.float32)
    grad = rng.standard_normal((cfg.B, cfg.T, width)).astype(np.float32)
    x_t, grad_t = torch.from_numpy(x), torch.from_numpy(grad)

    def step(module):
        if peer == "ours":
            out, _ = module.forward(x)
            return out, module.backward(grad)[0]
        xt = x_t.clone().requires_grad_(True)
        out, _ = module(xt)
        (out * grad_t).sum().backward()
        return out, xt.grad

    pick = 0 if peer == "ours" else 1
    warm = build_pair(cfg)[pick]
    step(warm)  # warm-up: thread pools, oneDNN primitives; its results are dropped with it
    del warm
    gc.collect()
    if peer == "ours":  # the warm-up's buffers went back to rnnfast's pool: hand them back too
        rnnfast.release_workspaces()
    module = build_pair(cfg)[pick]
    gc.collect()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")  # reset the peak (VmHWM) to the current RSS
    before = _status_mib("VmRSS:")
    result = step(module)
    peak = _status_mib("VmHWM:")
    del result
    return peak - before


def measure_training_memory(cfg: Config) -> tuple[float, float] | None:
    """(rnnfast MiB, torch MiB) of a training step, each in a fresh process; None off Linux."""
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    mib = []
    for peer in ("ours", "torch"):
        args = [peer, cfg.cell, cfg.T, cfg.B, cfg.I, cfg.H, cfg.layers, int(cfg.bidirectional)]
        command = [sys.executable, "-m", "rnnfast.benchmark", "--memory-probe", *map(str, args)]
        env = {**os.environ, **_PROBE_ENV}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        mib.append(float(done.stdout.split()[-1]))
    return mib[0], mib[1]


def configs(cells: list[str], shapes: list[tuple]) -> list[Config]:
    out = [Config(cell, *shape) for shape in shapes for cell in cells]
    if "lstm" in cells:
        out += [Config("lstm", 100, 64, 128, 256, layers=2, bidirectional=True)]
    return out


def train_target(cfg: Config) -> float:
    return TRAIN_TARGET_SMALL if cfg.H <= 256 else TRAIN_TARGET_LARGE


def infer_target(cfg: Config) -> float:
    return INFER_TARGET_SMALL if cfg.H <= 256 else INFER_TARGET_LARGE


def speed_verdict(name: str, rows: list[dict], target_of, peak: float) -> str:
    """One line: met, or each miss with the GFLOP/s that meeting it would take."""
    misses = []
    for row in rows:
        target = target_of(row["cfg"])
        ratio = row["ours"] / row["torch"]
        if ratio > target:
            needed = row["gflops"] * ratio / target  # same flops in target * torch's time
            bound = " (beyond the machine)" if needed > peak else ""
            misses.append(
                f"{row['cfg'].cell} H={row['cfg'].H}"
                f"{' L2 bi' if row['cfg'].bidirectional else ''} {ratio:.2f}: needs "
                f"{needed:.0f} GFLOP/s = {needed / peak:.0%} of peak{bound}"
            )
    if not rows:
        return f"{name}: not measured"
    if not misses:
        return f"{name}: MET on all {len(rows)} configurations"
    return f"{name}: MISSED on {len(misses)} of {len(rows)}: " + "; ".join(misses)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnnfast bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 timed runs instead of 7")
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
    parser.add_argument(
        "--max-hidden", type=int, default=None, help="skip grid shapes with a larger hidden size"
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the peak-memory measurements"
    )
    parser.add_argument(
        "--no-small-batch", action="store_true", help="skip the batch 1-8 inference section"
    )
    parser.add_argument("--memory-probe", nargs=8, help=argparse.SUPPRESS)
    parser.add_argument("--time-turn", choices=GRID_PEERS, help=argparse.SUPPRESS)
    parser.add_argument("--turn-repeats", type=int, default=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.time_turn:  # a child process of time_grid
        shapes = [s for s in GRID if args.max_hidden is None or s[3] <= args.max_hidden]
        cfgs = configs(args.cells, shapes)
        print(json.dumps(time_turn(args.time_turn, cfgs, args.turn_repeats)))
        return 0
    if args.memory_probe:  # a child process of measure_training_memory
        peer, cell, *sizes, bidirectional = args.memory_probe
        cfg = Config(cell, *map(int, sizes), bidirectional=bool(int(bidirectional)))
        print(f"{_memory_probe(peer, cfg):.2f}")
        return 0
    repeats = 3 if args.quick else 7
    shapes = [s for s in GRID if args.max_hidden is None or s[3] <= args.max_hidden]

    peak, corename = measure_sgemm_peak()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"rnnfast {rnnfast.__version__} ({corename} kernel, "
        f"{rnnfast.config_info()['threads']} threads); torch {torch.__version__} "
        f"({torch.get_num_threads()} threads)"
    )
    print(f"measured SGEMM peak (2048^3, rnnfast's OpenBLAS, all cores): {peak:.1f} GFLOP/s\n")
    header = (
        f"{'configuration':<40} {'mode':<5} {'rnnfast ms':>10} {'torch ms':>10} "
        f"{'ratio':>6} {'ort ms':>8} {'/ort':>5} {'GFLOP/s':>8} {'%peak':>6} {'same':>5}"
    )
    print(header)
    print("-" * len(header))
    cfgs = configs(args.cells, shapes)
    agree = {cfg.label: check_config(cfg) for cfg in cfgs}  # before any timing
    all_agree = all(agree.values())
    times = time_grid(args.cells, args.max_hidden, max(2, repeats // 2))
    rows = []
    for cfg in cfgs:
        for mode, flops in (("train", 3 * cfg.forward_flops()), ("infer", cfg.forward_flops())):
            peers = times[f"{cfg.label}|{mode}"]
            row = {
                "cfg": cfg,
                "mode": mode,
                "ours": peers["rnnfast"],
                "torch": peers["torch"],
                "ort": peers["onnxruntime"],
                "gflops": flops / peers["rnnfast"] / 1e9,
                "agree": agree[cfg.label],
            }
            rows.append(row)
            ort = (
                f"{1e3 * row['ort']:>8.2f} {row['ours'] / row['ort']:>5.2f}"
                if row["ort"] is not None
                else f"{'-':>8} {'-':>5}"
            )
            print(
                f"{cfg.label:<40} {row['mode']:<5} {1e3 * row['ours']:>10.2f} "
                f"{1e3 * row['torch']:>10.2f} {row['ours'] / row['torch']:>6.2f} {ort} "
                f"{row['gflops']:>8.1f} {100 * row['gflops'] / peak:>5.0f}% "
                f"{'yes' if row['agree'] else 'NO':>5}",
                flush=True,
            )
    # A busy neighbour on a shared machine can only depress a measurement: check the peak again,
    # and say so whenever the verdicts' share (of the higher reading) differs from the table's.
    peak_after, _ = measure_sgemm_peak()
    if peak_after > peak:
        print(
            f"\nnote: the SGEMM peak measured after the grid was {peak_after:.1f} GFLOP/s; "
            f"%peak above used {peak:.1f} and overstates by {peak_after / peak - 1:.1%}; "
            "the verdicts use the higher reading"
        )
    peak = max(peak, peak_after)
    print(
        "\nratio = rnnfast time / torch time (each library timed in processes of its own, "
        f"{GRID_ROUNDS} turns each, median; < 1 is faster); "
        "/ort = rnnfast time / onnxruntime time on the graph rnnfast.onnx exports (inference); "
        "GFLOP/s counts GEMM flops (training = 3x forward)."
    )

    small = []
    if not args.no_small_batch:
        small = bench_small_batch(args.cells, repeats, threads_in_use())
        all_agree &= all(r.agree for r in small)
        print_small_batch(small)
        serving = bench_estimator_serving(repeats=50 if args.quick else 200)
        all_agree &= all(r["agree"] for r in serving)
        print_estimator_serving(serving)

    batch, inputs, hidden = STREAM_SHAPE
    print(f"\nstreaming: one step of one sequence (batch {batch}, input {inputs}, hidden {hidden})")
    streams = []
    for cell in args.cells:
        result = bench_streaming(cell, steps=500 if args.quick else 2000)
        all_agree &= result["agree"]
        streams.append(result)
        print(
            f"  {cell:<4} rnnfast stream.step {1e6 * result['ours']:7.2f} us   torch module "
            f"{1e6 * result['torch']:7.2f} us   {result['torch'] / result['ours']:6.1f}x faster"
            f"   same: {'yes' if result['agree'] else 'NO'}",
            flush=True,
        )

    memory = []
    if not args.no_memory:
        print("\npeak RSS growth of one training step (fresh process each, after a warm-up):")
        for cfg in configs(args.cells, shapes):
            mib = measure_training_memory(cfg)
            if mib is None:
                print("  not measured: needs Linux's /proc/self/clear_refs")
                break
            memory.append((cfg, *mib))
            print(
                f"  {cfg.label:<40} rnnfast {mib[0]:8.1f} MiB   torch {mib[1]:8.1f} MiB   "
                f"ratio {mib[0] / mib[1]:5.2f}",
                flush=True,
            )

    print("\nverdicts (targets of the performance issue):")
    if not args.no_small_batch:
        print("- " + small_batch_verdict(small))
    train_rows = [r for r in rows if r["mode"] == "train"]
    infer_rows = [r for r in rows if r["mode"] == "infer" and r["cfg"].B >= INFER_TARGET_MIN_BATCH]
    print(
        "- "
        + speed_verdict(
            f"training <= {TRAIN_TARGET_SMALL} (H <= 256) / <= {TRAIN_TARGET_LARGE} (H >= 512)",
            train_rows,
            train_target,
            peak,
        )
    )
    print(
        "- "
        + speed_verdict(
            f"inference at batch >= {INFER_TARGET_MIN_BATCH} <= {INFER_TARGET_SMALL} (H <= 256) "
            f"/ <= {INFER_TARGET_LARGE} (H >= 512)",
            infer_rows,
            infer_target,
            peak,
        )
    )
    slow = [s for s in streams if s["torch"] / s["ours"] < STREAM_TARGET_SPEEDUP]
    print(
        f"- streaming >= {STREAM_TARGET_SPEEDUP:.0f}x: "
        + ("not measured" if not streams else "MET" if not slow else "MISSED")
        + " ("
        + ", ".join(f"{s['cell']} {s['torch'] / s['ours']:.1f}x" for s in streams)
        + ")"
    )
    largest = max(GRID, key=lambda shape: shape[1] * shape[2] * shape[3])
    big = [r for r in train_rows if (r["cfg"].T, r["cfg"].B, r["cfg"].I, r["cfg"].H) == largest]
    share = ", ".join(f"{r['cfg'].cell} {r['gflops'] / peak:.1%}" for r in big)
    met = big and all(r["gflops"] / peak >= EFFICIENCY_TARGET for r in big)
    print(
        f"- efficiency >= {EFFICIENCY_TARGET:.0%} of SGEMM peak on {largest}: "
        + ("not measured" if not big else ("MET" if met else "MISSED") + f" ({share})")
    )
    over = [(cfg, a, b) for cfg, a, b in memory if a > b]
    print(
        "- memory <= torch: "
        + (
            "not measured"
            if not memory
            else "MET on all"
            if not over
            else f"MISSED on {len(over)} of {len(memory)}: "
            + "; ".join(
                f"{' '.join(cfg.label.split())} {a / b:.2f}x ({a:.2f} against {b:.2f} MiB)"
                for cfg, a, b in over
            )
        )
    )
    if not all_agree:
        print("ERROR: rnnfast and torch disagreed on at least one configuration")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
