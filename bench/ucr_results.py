"""The default RNNClassifier against the field's baselines on the 11-set UCR/UEA panel: the
README's "Classification with defaults" table.

    python bench/ucr_results.py [--seeds 3] [--jobs 2] [--out bench/results/ucr_results.md]
    python bench/ucr_results.py --sets PLAID --params '{"standardize": "per_sequence"}'

Each set's archive train/test split; ``RNNClassifier(random_state=seed)`` and nothing else,
for each seed; 1-NN with Euclidean distance and 1-NN DTW computed here on the same splits
(bench/ucr_panel.py says how); published deep-learning and ROCKET accuracies where the
literature reports them. Ranks are per set over the three methods (1 = best, ties averaged;
rnnfast's mean accuracy over seeds). The defaults themselves were chosen by
bench/select_defaults.py on the training splits only. ``--params`` (JSON) evaluates the
defaults with some parameters changed instead (the table's heading says which).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import ucr_panel
from scipy.stats import rankdata

# Published test accuracies (%) on the same splits, where we know them.
PUBLISHED = {
    "JapaneseVowels": "FCN 99.3, ResNet 99.2 (Fawaz et al. 2019)",
    "BasicMotions": "MiniRocket 100",
    "ItalyPowerDemand": "ROCKET 97.0, FCN 96.1",
    "GunPoint": "FCN 100",
    "PLAID": "ROCKET 90.3",
}


def rnn_run(name: str, seed: int, params: dict) -> dict:
    import rnnfast

    data = ucr_panel.load(name)
    start = time.perf_counter()
    model = rnnfast.RNNClassifier(random_state=seed, **params)
    model.fit(data.X_train, data.y_train)
    seconds = time.perf_counter() - start
    return dict(accuracy=model.score(data.X_test, data.y_test), seconds=seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=1, help="processes (threads split evenly)")
    parser.add_argument("--sets", nargs="*", default=list(ucr_panel.PANEL))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--params", type=json.loads, default={}, help="JSON: changed defaults")
    args = parser.parse_args(argv)
    threads = ucr_panel.threads_per_process(args.jobs)
    tasks = [(name, seed) for name in args.sets for seed in range(args.seeds)]
    runs = ucr_panel.map_in_processes(
        rnn_run, [(name, seed, args.params) for name, seed in tasks], args.jobs
    )
    model = "rnnfast default" + (f" with {args.params}" if args.params else "")
    by_set = {
        name: [r for (n, _), r in zip(tasks, runs, strict=True) if n == name] for name in args.sets
    }

    import rnnfast

    lines = [
        f"rnnfast {rnnfast.__version__}, {platform.machine()}, {args.jobs} process(es) x "
        f"{threads} thread(s), seeds {list(range(args.seeds))}\n",
        f"| data set | length | train | classes | {model} (mean ± sd) | train time | "
        "1-NN ED | 1-NN DTW | published |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    ranks = []
    for name in args.sets:
        data = ucr_panel.load(name)
        accuracy = np.array([r["accuracy"] for r in by_set[name]])
        ed = ucr_panel.nearest_neighbour_accuracy(data, "euclidean")
        dtw = ucr_panel.nearest_neighbour_accuracy(data, "dtw")
        ranks.append(rankdata([-accuracy.mean(), -ed, -dtw]))
        low, high = data.lengths
        length = str(low) if low == high else f"{low}-{high}"
        features = f" x {data.n_features}" if data.n_features > 1 else ""
        lines.append(
            f"| {name} | {length}{features} | {len(data.X_train)} | "
            f"{len(np.unique(data.y_train))} | {100 * accuracy.mean():.1f} ± "
            f"{100 * accuracy.std():.1f} ({', '.join(f'{100 * a:.1f}' for a in accuracy)}) | "
            f"{np.mean([r['seconds'] for r in by_set[name]]):.1f} s | {100 * ed:.1f} | "
            f"{100 * dtw:.1f} | {PUBLISHED.get(name, '')} |"
        )
        print(lines[-1], flush=True)
    mean_rank = np.mean(ranks, axis=0)
    lines.append(
        f"\nMean rank over {len(args.sets)} sets (1 = best of three): rnnfast "
        f"{mean_rank[0]:.2f}, 1-NN ED {mean_rank[1]:.2f}, 1-NN DTW {mean_rank[2]:.2f}."
    )
    print("\n".join(lines))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
