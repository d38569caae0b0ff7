"""The ``rnnfast`` command (also ``python -m rnnfast``).

rnnfast demo [--quick]    train a character-level LSTM on Python's own help texts (ships
                          with Python, no download), print its held-out bits per character
                          and a generated sample
rnnfast bench [--quick]   rnnfast vs PyTorch, side by side (needs torch)
rnnfast check             configuration, a gradient self-check, timed training steps
                          (the default when no command is given)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import rnnfast
from rnnfast.nn import GRU, LSTM, RNN


# ----------------------------------------------------------------------------------- demo
def demo(quick: bool = False) -> int:
    """Fit a CharRNN on 90% of ``pydoc_data.topics`` and report on the held-out 10%."""
    from rnnfast.datasets import load_python_docs

    text = load_python_docs()
    split = int(0.9 * len(text))
    n_train = 40_000 if quick else 300_000
    train = text[split - n_train : split]
    epochs = 2 if quick else 8
    print(
        f"rnnfast demo: a 1-layer LSTM (hidden 128) learns Python's help texts character by "
        f"character\n  {len(train):,} training characters x {epochs} epochs; "
        f"held-out: the last {len(text) - split:,} characters"
    )
    model = rnnfast.CharRNN(hidden_size=128, max_epochs=epochs, verbose=2, random_state=0)
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    known = set(model.vocabulary_)
    held_out = "".join(ch for ch in text[split:] if ch in known)[: 5_000 if quick else 20_000]
    bpc = model.bits_per_char(held_out)
    uniform = np.log2(len(model.vocabulary_))
    print(
        f"\ntrained in {seconds:.1f} s; held-out bits per character: {bpc:.3f} "
        f"(uniform guess: {uniform:.2f})"
    )
    print("sample (temperature 0.7) continuing 'The ':\n")
    print("The " + model.generate("The ", 300, temperature=0.7, random_state=0))
    return 0


# ---------------------------------------------------------------------------------- check
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


def check() -> int:
    rnnfast.show_config()
    print(f"\nself-check: finite-difference relative error {_self_check():.2e} (float64 LSTM)")
    print("\ntraining step (forward + BPTT), T=100 B=64 I=64 H=128, float32:")
    for cell in (LSTM, GRU, RNN):
        print(f"  {cell.__name__:>4}: {1e3 * _time_training_step(cell, 100, 64, 64, 128):7.2f} ms")
    return 0


# ----------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rnnfast",
        description="Fast CPU recurrent networks with a scikit-learn workflow.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n")[1],
    )
    commands = parser.add_subparsers(dest="command")
    demo_parser = commands.add_parser("demo", help="train a char-level LSTM on Python's docs")
    demo_parser.add_argument("--quick", action="store_true", help="a smaller, faster run")
    commands.add_parser(
        "bench",
        help="rnnfast vs PyTorch (needs torch); options: rnnfast bench -- -h",
        add_help=False,
    )
    commands.add_parser("check", help="configuration, self-check, timed training steps")
    args, bench_options = parser.parse_known_args(argv)
    if bench_options and args.command != "bench":
        parser.error(f"unrecognized arguments: {' '.join(bench_options)}")

    if args.command == "demo":
        return demo(args.quick)
    if args.command == "bench":
        try:
            from rnnfast.benchmark import main as bench_main
        except ImportError as exc:
            print(f"rnnfast bench: {exc}")
            return 2
        return bench_main([o for o in bench_options if o != "--"])
    return check()


if __name__ == "__main__":
    raise SystemExit(main())
