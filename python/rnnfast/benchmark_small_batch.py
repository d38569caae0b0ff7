"""The small-batch section of ``rnnfast bench``: inference at batch 1-8, where a deployed
model serves, against onnxruntime (running the graph :func:`rnnfast.onnx.export` writes, same
weights, same thread count) and torch, beside the bandwidth floor of each shape.

At batch 1-8 a step's cost is not its flops but reading the recurrent weights: every step
must read all of W_hh (``G * H * H`` floats). The floor of a row is ``T`` times the bytes of
W_hh over the read bandwidth the cores together reach on a buffer of that size, measured
here (``rnnfast.backends.cpu.read_bandwidth``): a buffer that fits in the cores' caches reads
far faster than one that must come from memory, so the floor follows the machine.
"""

from __future__ import annotations

import functools
import io
import json
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

import rnnfast
from rnnfast.backends import cpu

# (T, I) of every row; batches and hidden sizes of the section's grid.
STEPS, INPUTS = 50, 64
BATCHES = (1, 2, 4, 8)
HIDDEN = (128, 256, 512, 1024)
# Targets of the performance issue: rnnfast time / peer time.
ORT_TARGET, TORCH_TARGET = 0.6, 0.5


@dataclass
class SmallBatchRow:
    cell: str
    B: int
    H: int
    module: float  # seconds per call, median: an ordinary module's forward (packs every call)
    ours: float  # seconds per call, median: a frozen copy's (module.freeze(): packed once),
    # what the ratios use, as onnxruntime's session also prepares its weights once
    ort: float | None  # None: onnxruntime not installed
    torch: float
    floor: float  # seconds: T * W_hh bytes / measured read bandwidth
    agree: bool


def onnxruntime_runner(module, x: np.ndarray, threads: int):
    """A callable running ``module``'s exported graph on ``x`` in onnxruntime (``threads``
    intra-op threads, one inter-op), or None when onnxruntime is not installed."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    from rnnfast.onnx import export

    buffer = io.BytesIO()
    export(module, buffer, lengths=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
    feeds = {"input": x}
    return lambda: session.run(["output"], feeds)[0]


def median_alternating(runs, repeats: int) -> list[float]:
    """Median seconds of each callable over ``repeats`` rounds; in each round every callable
    runs twice in a row and its second run is timed.

    The untimed run takes the switch from the library before: the thread pools of the run
    before (ours, torch's OpenMP, onnxruntime's) spin for a while after their work, and on a
    machine with as many threads as cores they would take cores from the next run. Pausing
    instead is worse on virtual machines, where an idle virtual CPU halts and takes
    milliseconds to wake.
    """
    times = [[] for _ in runs]
    for _ in range(repeats + 1):  # the first round warms up allocators, pools and caches
        for run, spent in zip(runs, times, strict=True):
            run()
            start = time.perf_counter()
            run()
            spent.append(time.perf_counter() - start)
    return [statistics.median(spent[1:]) for spent in times]


def median_seconds(run, repeats: int, warmups: int = 1) -> float:
    """Median seconds of ``repeats`` calls of ``run`` after ``warmups`` untimed ones
    (allocators, thread pools, caches)."""
    for _ in range(warmups):
        run()
    spent = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        spent.append(time.perf_counter() - start)
    return statistics.median(spent)


# Each peer is timed in a process of its own, where no other library's threads exist: at
# batch 1-8 a call lasts tens of microseconds to milliseconds, and torch's OpenMP threads
# spin for milliseconds after each of its calls, which took the cores from whatever ran next
# in the same process (rnnfast's column split waits at a barrier per step for a thread the
# spinners delayed; measured: 10x swings). The peers take turns, ROUNDS times.
PEERS = ("rnnfast", "rnnfast-frozen", "onnxruntime", "torch")
ROUNDS = 3
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def _module(cell: str, H: int):
    from rnnfast import nn

    return {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](INPUTS, H, random_state=0)


def _input(B: int) -> np.ndarray:
    return np.random.default_rng(3).standard_normal((B, STEPS, INPUTS)).astype(np.float32)


def _torch_runner(module, cell: str, x: np.ndarray):
    import torch

    twin = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[cell](
        INPUTS, module.hidden_size, batch_first=True
    )
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in module.state_dict().items()})
    x_t = torch.from_numpy(x)

    def run():
        with torch.inference_mode():
            return twin(x_t)[0].numpy()

    return run


def _runner(peer: str, cell: str, B: int, H: int, threads: int):
    """A callable running one row's inference in ``peer``, or None (not installed)."""
    module, x = _module(cell, H), _input(B)
    if peer == "rnnfast":
        return lambda: module.forward(x, training=False)[0]
    if peer == "rnnfast-frozen":
        frozen = module.freeze()
        return lambda: frozen.forward(x, training=False)[0]
    if peer == "onnxruntime":
        return onnxruntime_runner(module, x, threads)
    return _torch_runner(module, cell, x)


def _grid(cells) -> list[tuple[str, int, int]]:
    return [(cell, B, H) for cell in cells for H in HIDDEN for B in BATCHES]


def time_peer(peer: str, cells, repeats: int, threads: int) -> dict:
    """In this process: median seconds of every row of the grid in ``peer`` (None where it is
    not installed); for rnnfast also the read bandwidth of each W_hh size."""
    if peer == "torch":
        import torch

        torch.set_num_threads(threads)
    rnnfast.set_num_threads(threads)
    result = {"times": {}, "bandwidth": {}}
    for cell, B, H in _grid(cells):
        run = _runner(peer, cell, B, H, threads)
        if run is None:
            result["times"][f"{cell} {B} {H}"] = None
            continue
        result["times"][f"{cell} {B} {H}"] = median_seconds(run, repeats, warmups=2)
        if peer == "rnnfast":
            w_hh_bytes = GATES[cell] * H * H * 4
            result["bandwidth"][str(w_hh_bytes)] = cpu.read_bandwidth(w_hh_bytes, threads)
    return result


def turns_in_processes(command_of, peers, rounds: int) -> dict[str, list]:
    """``{peer: [result of each turn]}``: each peer's turn runs ``command_of(peer)`` in a
    process of its own, the peers taking turns ``rounds`` times; a turn prints its result as
    JSON on its last line."""
    turns = {peer: [] for peer in peers}
    for _ in range(rounds):
        for peer in peers:
            done = subprocess.run(command_of(peer), capture_output=True, text=True, check=True)
            turns[peer].append(json.loads(done.stdout.strip().splitlines()[-1]))
    return turns


def bench_small_batch(cells, repeats: int, threads: int) -> list[SmallBatchRow]:
    """Every cell x hidden size x batch of the grid, each peer timed in its own processes
    (``ROUNDS`` turns each; a row's time is the median over turns of each turn's median),
    after checking in this process that the three compute the same outputs."""
    turns = turns_in_processes(
        lambda peer: [
            *(sys.executable, "-m", "rnnfast.benchmark_small_batch", peer),
            *(str(repeats), str(threads), *cells),
        ],
        PEERS,
        ROUNDS,
    )
    rows = []
    for cell, B, H in _grid(cells):
        key = f"{cell} {B} {H}"
        median = {}
        for peer in PEERS:
            values = [turn["times"][key] for turn in turns[peer]]
            median[peer] = None if None in values else statistics.median(values)
        expected = _runner("torch", cell, B, H, threads)()
        agree = True
        for peer in ("rnnfast", "rnnfast-frozen", "onnxruntime"):
            run = _runner(peer, cell, B, H, threads)
            if run is not None:
                agree &= bool(np.allclose(run(), expected, rtol=1e-3, atol=1e-4))
        w_hh_bytes = GATES[cell] * H * H * 4
        bandwidth = max(turn["bandwidth"][str(w_hh_bytes)] for turn in turns["rnnfast"])
        rows.append(
            SmallBatchRow(
                cell,
                B,
                H,
                module=median["rnnfast"],
                ours=median["rnnfast-frozen"],
                ort=median["onnxruntime"],
                torch=median["torch"],
                floor=STEPS * w_hh_bytes / bandwidth,
                agree=agree,
            )
        )
    return rows


def print_small_batch(rows: list[SmallBatchRow]) -> None:
    print(
        f"\nsmall-batch inference (T={STEPS}, I={INPUTS}; floor = T x W_hh bytes / measured "
        "read bandwidth of a buffer that size, all threads; module: an ordinary module's "
        "forward, packing its weights every call; frozen: module.freeze(), packed once as "
        "onnxruntime's session does, which the ratios use)"
    )
    header = (
        f"{'cell':<5} {'B':>2} {'H':>5} {'module ms':>9} {'frozen ms':>9} {'ort ms':>8} "
        f"{'torch ms':>9} "
        f"{'/ort':>5} {'/torch':>6} {'floor ms':>9} {'/floor':>6} {'same':>5}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        ort_ms = f"{1e3 * r.ort:8.3f}" if r.ort is not None else f"{'-':>8}"
        ort_ratio = f"{r.ours / r.ort:5.2f}" if r.ort is not None else f"{'-':>5}"
        print(
            f"{r.cell:<5} {r.B:>2} {r.H:>5} {1e3 * r.module:>9.3f} {1e3 * r.ours:>9.3f} {ort_ms} "
            f"{1e3 * r.torch:>9.3f} {ort_ratio} {r.ours / r.torch:>6.2f} "
            f"{1e3 * r.floor:>9.3f} {r.ours / r.floor:>6.1f} {'yes' if r.agree else 'NO':>5}",
            flush=True,
        )


def small_batch_verdict(rows: list[SmallBatchRow]) -> str:
    """One line: each row over a target, with its distance from the floor (and, where the
    target itself lies below the floor, that it is beyond the machine)."""
    if not rows:
        return "small-batch inference: not measured"
    misses = []
    for r in rows:
        over = []
        if r.ort is None:
            over.append("onnxruntime not installed")
        elif r.ours / r.ort > ORT_TARGET:
            over.append(f"{r.ours / r.ort:.2f}x ort")
        if r.ours / r.torch > TORCH_TARGET:
            over.append(f"{r.ours / r.torch:.2f}x torch")
        if over:
            bound = f"{r.ours / r.floor:.1f}x floor"
            target = min(TORCH_TARGET * r.torch, ORT_TARGET * r.ort if r.ort else np.inf)
            if target < r.floor:  # no kernel reading W_hh at this bandwidth can meet it
                bound += f"; the target {1e3 * target:.3f} ms is below it: beyond the machine"
            misses.append(f"{r.cell} B={r.B} H={r.H} {', '.join(over)} ({bound})")
    name = f"small-batch inference <= {ORT_TARGET}x onnxruntime and <= {TORCH_TARGET}x torch"
    if not misses:
        return f"{name}: MET on all {len(rows)} rows"
    return f"{name}: MISSED on {len(misses)} of {len(rows)}: " + "; ".join(misses)


# An estimator serving one request: a default RNNClassifier (bidirectional GRU, max pooling)
# fitted briefly on random series of this shape, predicting one sequence.
SERVING_SHAPE = (50, 8)  # steps, features
SERVING_HIDDEN = (64, 128)


def bench_estimator_serving(repeats: int) -> list[dict]:
    """Per hidden size: median seconds of ``predict`` of one sequence by a fitted
    ``RNNClassifier`` and by its ``freeze()`` copy (alternating, in this process: both are
    rnnfast), and whether the two predict the same probabilities."""
    steps, features = SERVING_SHAPE
    rng = np.random.default_rng(5)
    X = rng.standard_normal((64, steps, features)).astype(np.float32)
    y = np.arange(64) % 3
    rows = []
    for hidden in SERVING_HIDDEN:
        est = rnnfast.RNNClassifier(hidden_size=hidden, max_epochs=1, random_state=0).fit(X, y)
        frozen = est.freeze()
        one = X[:1]
        plain_s, frozen_s = median_alternating(
            [functools.partial(model.predict_proba, one) for model in (est, frozen)], repeats
        )
        agree = bool(np.array_equal(est.predict_proba(X), frozen.predict_proba(X)))
        rows.append(dict(hidden=hidden, plain=plain_s, frozen=frozen_s, agree=agree))
    return rows


def print_estimator_serving(rows: list[dict]) -> None:
    steps, features = SERVING_SHAPE
    print(
        f"\nestimator serving: predict_proba of one sequence ({steps} steps, {features} "
        "features) by a fitted RNNClassifier (bidirectional GRU) and by its freeze() copy"
    )
    for r in rows:
        print(
            f"  hidden {r['hidden']:>4}: RNNClassifier {1e6 * r['plain']:8.1f} us   frozen "
            f"{1e6 * r['frozen']:8.1f} us   ratio {r['frozen'] / r['plain']:5.2f}   same: "
            f"{'yes' if r['agree'] else 'NO'}",
            flush=True,
        )


def threads_in_use() -> int:
    return int(rnnfast.config_info()["threads"])


if __name__ == "__main__":  # one peer's turn (see bench_small_batch): peer repeats threads cells
    peer_name, n_repeats, n_threads, *cell_names = sys.argv[1:]
    print(json.dumps(time_peer(peer_name, cell_names, int(n_repeats), int(n_threads))))
