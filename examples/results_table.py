"""The results table (README, docs/guide/real-data.md): every data set, 3 seeds, metrics
beside published anchors.

    python examples/results_table.py [--seeds 3] [--torch] [--quick]

Prints a Markdown table. Times are wall-clock training times on the machine it runs on.
"""

from __future__ import annotations

import argparse
import platform

import classification
import forecasting
import numpy as np
import text_generation
from _cli import mean_sd

import rnnfast

ANCHORS = {
    "japanese_vowels": "FCN 99.3%, ResNet 99.2%, echo-state net 96.5% (Fawaz et al. 2019)",
    "basic_motions": "MiniRocket 100%",
    "italy_power_demand": "ROCKET 97.0%, FCN 96.1%",
    "gunpoint": "FCN 100%",
    "plaid": "ROCKET 90.3%",
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--torch", action="store_true", help="the PyTorch LSTM for text too")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    seeds = range(args.seeds)
    print(
        f"rnnfast {rnnfast.__version__}, {platform.machine()}, "
        f"{rnnfast.config_info()['threads']} threads, seeds {list(seeds)}\n"
    )
    print("| data set | task | rnnfast (mean ± sd) | train time | published / baseline |")
    print("| --- | --- | --- | --- | --- |")
    for name in classification.CONFIGS:
        runs = [classification.run(name, seed, args.quick) for seed in seeds]
        accuracy = [100 * r["accuracy"] for r in runs]
        seconds = [r["seconds"] for r in runs]
        print(
            f"| {runs[0]['data'].name} | accuracy | {mean_sd(accuracy, '{:.1f}')}% | "
            f"{np.mean(seconds):.1f} s | {ANCHORS[name]} |",
            flush=True,
        )
    for name in forecasting.CONFIGS:
        runs = [forecasting.run(name, seed, args.quick) for seed in seeds]
        baseline = "Holt-Winters" if name == "airline" else "ARIMA(9,0,0)"
        print(
            f"| {name} (last {runs[0]['test']}) | MAE | "
            f"{mean_sd([r['mae'] for r in runs], '{:.2f}')}"
            f" | {np.mean([r['seconds'] for r in runs]):.1f} s | seasonal-naive "
            f"{runs[0]['naive_mae']:.2f}, {baseline} {runs[0]['baseline_mae']:.2f} |",
            flush=True,
        )
    runs = [text_generation.run(seed, args.quick) for seed in seeds]
    reference = "PyTorch LSTM, same size and budget: run with --torch"
    if args.torch:
        theirs = [text_generation.run_torch(seed, args.quick) for seed in seeds]
        reference = (
            f"PyTorch LSTM, same size and budget: "
            f"{mean_sd([r['bpc'] for r in theirs], '{:.3f}')} "
            f"({np.mean([r['seconds'] for r in theirs]):.1f} s)"
        )
    print(
        f"| Python docs (held-out 20k chars) | bits/char | "
        f"{mean_sd([r['bpc'] for r in runs], '{:.3f}')} | "
        f"{np.mean([r['seconds'] for r in runs]):.1f} s | {reference} |"
    )


if __name__ == "__main__":
    main()
