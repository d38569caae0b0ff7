"""rnnfast vs PyTorch CPU, side by side in one process (protocol: ../shared/DESIGN.md).

For every shape of the grid and every cell: same weights, same data, warm-up first, then
alternating timed runs of rnnfast and torch; prints median times, the ratio rnnfast/torch,
the GFLOP/s rnnfast achieved and its fraction of this machine's measured SGEMM peak. Each
configuration also checks that both produced the same outputs (and input gradients), so a
fast wrong answer cannot look good.

    rnnfast bench                        # full grid, training step and inference
    rnnfast bench --quick                # fewer repetitions, for a smoke run
    python bench/bench_rnn.py [--quick]  # the same, from a checkout

Importing this module imports PyTorch (the peer it measures against).
"""

from __future__ import annotations

import argparse
import ctypes
import glob
import os
import platform
import statistics
import time
from dataclasses import dataclass

import numpy as np

import rnnfast
from rnnfast import nn

try:
    import torch
except ImportError as exc:  # pragma: no cover - the bench needs its peer
    raise ImportError("the benchmark compares against PyTorch: pip install torch==2.13.0") from exc

# (T, B, I, H): DESIGN.md's grid, plus batch-1 streaming.
GRID = [
    (100, 32, 32, 64),
    (100, 64, 64, 128),
    (100, 64, 128, 256),
    (50, 64, 512, 512),
    (20, 256, 1024, 1024),
    (200, 1, 16, 64),
]
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


def median_alternating(run_ours, run_torch, repeats: int) -> tuple[float, float]:
    for _ in range(2):  # warm-up: allocator, thread pools, oneDNN primitive caches
        run_ours()
        run_torch()
    ours, theirs = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        run_ours()
        ours.append(time.perf_counter() - start)
        start = time.perf_counter()
        run_torch()
        theirs.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(theirs)


def bench_config(cfg: Config, repeats: int) -> list[dict]:
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

    # Correctness first: the timed code must compute the same thing.
    out_a, gx_a = ours_train()
    out_b, gx_b = torch_train()
    scale = max(1.0, float(np.abs(gx_b.numpy()).max()))
    agree = bool(
        np.allclose(out_a, out_b.detach().numpy(), rtol=1e-3, atol=1e-4)
        and np.allclose(gx_a, gx_b.numpy(), rtol=1e-3, atol=1e-4 * scale)
        and np.allclose(ours_infer(), torch_infer().numpy(), rtol=1e-3, atol=1e-4)
    )
    rows = []
    for mode, a, b, flops in (
        ("train", ours_train, torch_train, 3 * cfg.forward_flops()),
        ("infer", ours_infer, torch_infer, cfg.forward_flops()),
    ):
        t_ours, t_torch = median_alternating(a, b, repeats)
        rows.append(
            {
                "cfg": cfg,
                "mode": mode,
                "ours": t_ours,
                "torch": t_torch,
                "gflops": flops / t_ours / 1e9,
                "agree": agree,
            }
        )
    return rows


def configs(cells: list[str], shapes: list[tuple]) -> list[Config]:
    out = [Config(cell, *shape) for shape in shapes for cell in cells]
    if "lstm" in cells:
        out += [Config("lstm", 100, 64, 128, 256, layers=2, bidirectional=True)]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rnnfast bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 timed runs instead of 7")
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
    parser.add_argument(
        "--max-hidden", type=int, default=None, help="skip grid shapes with a larger hidden size"
    )
    args = parser.parse_args(argv)
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
        f"{'ratio':>6} {'GFLOP/s':>8} {'%peak':>6} {'same':>5}"
    )
    print(header)
    print("-" * len(header))
    all_agree = True
    for cfg in configs(args.cells, shapes):
        for row in bench_config(cfg, repeats):
            all_agree &= row["agree"]
            print(
                f"{cfg.label:<40} {row['mode']:<5} {1e3 * row['ours']:>10.2f} "
                f"{1e3 * row['torch']:>10.2f} {row['ours'] / row['torch']:>6.2f} "
                f"{row['gflops']:>8.1f} {100 * row['gflops'] / peak:>5.0f}% "
                f"{'yes' if row['agree'] else 'NO':>5}",
                flush=True,
            )
    # A busy neighbour on a shared machine can only depress a measurement: check the peak again.
    peak_after, _ = measure_sgemm_peak()
    if peak_after > peak * 1.05:
        print(
            f"\nnote: the SGEMM peak measured after the grid was {peak_after:.1f} GFLOP/s; "
            f"%peak above used {peak:.1f} and overstates by {peak_after / peak - 1:.0%}"
        )
    print(
        "\nratio = rnnfast time / torch time (median of alternating runs; < 1 is faster); "
        "GFLOP/s counts GEMM flops (training = 3x forward)."
    )
    if not all_agree:
        print("ERROR: rnnfast and torch disagreed on at least one configuration")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
