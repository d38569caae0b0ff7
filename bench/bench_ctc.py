"""CTC loss (forward and gradient) of rnnfast vs PyTorch CPU, side by side in one process.

    python bench/bench_ctc.py [--repeats 21]

The shape is the issue's: n=32 sequences of T=200 steps over C=30 classes, 40 labels each
(random, repeats allowed). torch runs ``log_softmax`` + ``ctc_loss`` forward and backward (what
``ctc_loss(logits)`` computes here); both get the same logits and targets and their losses and
gradients are compared before timing. Both use all cores (2 on the project machines).

The machine's limit printed beside the times: the work is bound by transcendental functions
(per sample, step and state of the extended target: 2 exp and 1 log in alpha, as many in beta,
1 exp for the state's posterior; per step and class 2 exp for the softmax). The line reports
that count, the rate rnnfast reaches per core, and for scale the rate of numpy's vectorised
double ``exp`` on one core.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from rnnfast import config_info
from rnnfast.benchmark import median_alternating
from rnnfast.nn.losses import ctc_loss


def transcendental_count(n: int, time_steps: int, labels: int, classes: int) -> float:
    states = 2 * labels + 1
    per_state = 2 * 3 + 1  # alpha and beta: 2 exp + 1 log each; the posterior: 1 exp
    return n * (time_steps * states * per_state + time_steps * classes * 2)


def numpy_exp_rate() -> float:
    """Evaluations per second of numpy's vectorised double exp on one core."""
    x = np.random.default_rng(0).standard_normal(1 << 20)
    np.exp(x)
    start = time.perf_counter()
    for _ in range(10):
        np.exp(x)
    return 10 * x.size / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args(argv)
    n, time_steps, classes, labels = 32, 200, 30, 40
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((n, time_steps, classes)).astype(np.float32)
    targets = [rng.integers(1, classes, size=labels) for _ in range(n)]
    lengths = np.full(n, time_steps)

    torch.set_num_threads(os.cpu_count() or 1)
    x = torch.tensor(logits, requires_grad=True)
    flat = torch.tensor(np.concatenate(targets))
    input_lengths = torch.tensor(lengths)
    target_lengths = torch.full((n,), labels)

    def run_ours():
        return ctc_loss(logits, targets, lengths)

    def run_torch():
        x.grad = None
        log_probs = torch.log_softmax(x, dim=-1).transpose(0, 1)
        loss = torch.nn.functional.ctc_loss(log_probs, flat, input_lengths, target_lengths)
        loss.backward()
        return loss.item(), x.grad.numpy()

    ours_loss, ours_grad = run_ours()
    torch_loss, torch_grad = run_torch()
    same = np.isclose(ours_loss, torch_loss, rtol=1e-5) and np.allclose(
        ours_grad, torch_grad, rtol=1e-4, atol=1e-6
    )
    t_ours, t_torch = median_alternating([run_ours, run_torch], args.repeats)
    count = transcendental_count(n, time_steps, labels, classes)
    print(
        f"CTC loss + gradient, n={n} T={time_steps} C={classes} labels={labels}, float32; "
        f"rnnfast {config_info()['threads']} threads, torch {torch.__version__} "
        f"{torch.get_num_threads()} threads, {os.cpu_count()} CPUs"
    )
    print(f"{'rnnfast ms':>10} {'torch ms':>10} {'ratio':>6} {'same':>5}")
    print(f"{1e3 * t_ours:10.2f} {1e3 * t_torch:10.2f} {t_ours / t_torch:6.2f} {same!s:>5}")
    cores = min(os.cpu_count() or 1, config_info()["threads"])
    print(
        f"machine limit: ~{count / 1e6:.1f} M exp/log evaluations (visited states bound it "
        f"above); rnnfast {count / t_ours / cores / 1e6:.0f} M/s per core, numpy's "
        f"vectorised exp {numpy_exp_rate() / 1e6:.0f} M/s on one core"
    )
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
