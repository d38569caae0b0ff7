"""How RNNClassifier's defaults were chosen: cross-validation on the training splits of the
11-set UCR/UEA panel (bench/ucr_panel.py), never on their test splits.

    python bench/select_defaults.py [--folds 3] [--jobs 2] [--out bench/results/select_defaults.md]
    python bench/select_defaults.py --stages standardize --base '{"pooling": "max", ...}'

A coordinate search: starting from a base configuration, each stage tries a few values of
one group of hyperparameters, keeps the one with the best mean rank over the data sets (the
rank of each candidate's mean cross-validated accuracy on each set, ties averaged; the mean
accuracy breaks a tie), and the next stage starts from it. The folds are stratified and
fixed (seed 0), a candidate's network seed is the fold's index, so a rerun reproduces every
number. Prints, and writes, a Markdown log of every stage; the chosen configuration is the
last line, and is what ``RNNClassifier()`` uses (``frame_steps`` is the
``AUTO_FRAME_STEPS`` behind ``frame_stride="auto"``). ``--stages`` runs only the named
stages, from the configuration ``--base`` (JSON) instead of ``BASE``: how a stage added later
(``standardize``, then ``weight_decay`` and ``lr_schedule``) was run from the configuration
the earlier stages had chosen. A second pass from the defaults (``--stages hidden_size
batch_size learning_rate epochs dropout attention_pooling``, log
``bench/results/select_defaults_second_pass.md``) ended on ``dropout=0.1``, ahead of no
dropout by 0.09 of a rank with a lower mean accuracy; the default kept no dropout (the
README's results section says why).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import ucr_panel
from scipy.stats import rankdata
from sklearn.model_selection import StratifiedKFold

from rnnfast import RNNClassifier

# The base: 0.1's defaults with standardisation and frames on.
BASE = dict(
    frame_steps=100,
    pooling="last",
    cell="lstm",
    bidirectional=False,
    hidden_size=32,
    batch_size=32,
    learning_rate=0.01,
    max_epochs=50,
    early_stopping=False,
    standardize=True,
)
STAGES = [
    ("pooling", [dict(pooling=p) for p in ("last", "mean", "max")]),
    ("frame_steps", [dict(frame_steps=s) for s in (50, 100, 200)]),
    (
        "cell",
        [
            dict(cell="lstm", bidirectional=False),
            dict(cell="gru", bidirectional=False),
            dict(cell="lstm", bidirectional=True),
            dict(cell="gru", bidirectional=True),
        ],
    ),
    ("hidden_size", [dict(hidden_size=h) for h in (32, 64, 128)]),
    ("batch_size", [dict(batch_size=b) for b in (8, 16, 32)]),
    ("learning_rate", [dict(learning_rate=r) for r in (0.003, 0.01, 0.03)]),
    (
        "epochs",
        [
            dict(max_epochs=50, early_stopping=False),
            dict(max_epochs=100, early_stopping=False),
            dict(max_epochs=200, early_stopping=False),
            dict(max_epochs=200, early_stopping=True),
        ],
    ),
    # each set's statistics (per feature), or each series by its own (z-normalisation),
    # with or without its levels in the set's units
    (
        "standardize",
        [
            dict(standardize=True),
            dict(standardize="per_sequence"),
            dict(standardize="per_sequence_level"),
        ],
    ),
    # added after the others, for the small sets that lost to 1-NN (ArrowHead's 36 series),
    # and attention pooling once the language work had built it
    ("weight_decay", [dict(weight_decay=w) for w in (0.0, 3e-4, 1e-3)]),
    ("lr_schedule", [dict(lr_schedule=s) for s in ("constant", "cosine")]),
    ("dropout", [dict(dropout=p) for p in (0.0, 0.1, 0.3)]),
    ("attention_pooling", [dict(pooling=p) for p in ("max", "attention")]),
]


def classifier(config: dict, longest: int, seed: int) -> RNNClassifier:
    params = {k: v for k, v in config.items() if k != "frame_steps"}
    stride = max(1, -(-longest // config["frame_steps"]))
    return RNNClassifier(frame_stride=stride, random_state=seed, **params)


def fold_accuracy(config: dict, name: str, folds: int, fold: int) -> float:
    """Accuracy on fold ``fold`` of the stratified folds of ``name``'s training split, of
    the model fitted on the other folds (network seed: the fold's index)."""
    data = ucr_panel.load(name)
    X, y = data.X_train, data.y_train
    fit_idx, val_idx = list(_splitter(y, folds).split(np.zeros(len(y)), y))[fold]
    X_fit = [X[i] for i in fit_idx]
    model = classifier(config, max(len(x) for x in X_fit), fold)
    model.fit(X_fit, y[fit_idx])
    return model.score([X[i] for i in val_idx], y[val_idx])


def _splitter(y: np.ndarray, folds: int) -> StratifiedKFold:
    n_splits = min(folds, int(np.unique(y, return_counts=True)[1].min()))
    return StratifiedKFold(n_splits, shuffle=True, random_state=0)


def cv_accuracies(config: dict, panel, folds: int, jobs: int) -> list[float]:
    """Each data set's mean accuracy over its folds (folds run in ``jobs`` processes)."""
    tasks = [(d.name, k) for d in panel for k in range(_splitter(d.y_train, folds).n_splits)]
    scores = ucr_panel.map_in_processes(
        fold_accuracy, [(config, name, folds, k) for name, k in tasks], jobs
    )
    return [
        float(np.mean([s for (n, _), s in zip(tasks, scores, strict=True) if n == d.name]))
        for d in panel
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="processes (threads split evenly)")
    parser.add_argument("--sets", nargs="*", default=list(ucr_panel.PANEL))
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--stages", nargs="*", default=[name for name, _ in STAGES])
    parser.add_argument("--base", type=json.loads, default=BASE, help="JSON configuration")
    args = parser.parse_args(argv)
    unknown = set(args.stages) - {name for name, _ in STAGES}
    if unknown:
        parser.error(f"unknown stages {sorted(unknown)}")
    panel = [ucr_panel.load(name) for name in args.sets]
    lines = [f"# Default selection: {args.folds}-fold CV on the training splits\n"]

    def say(line: str = "") -> None:
        print(line, flush=True)
        lines.append(line)

    say(f"Base: {args.base}")
    config, cache = {**BASE, **args.base}, {}
    for stage, options in [(name, options) for name, options in STAGES if name in args.stages]:
        candidates = [{**config, **option} for option in options]
        scores = []
        for candidate in candidates:
            key = tuple(sorted(candidate.items()))
            if key not in cache:
                start = time.perf_counter()
                cache[key] = cv_accuracies(candidate, panel, args.folds, args.jobs)
                print(f"  {stage} {candidate}: {time.perf_counter() - start:.0f} s", flush=True)
            scores.append(cache[key])
        scores = np.array(scores)  # (candidate, data set)
        ranks = np.apply_along_axis(lambda s: rankdata(-s), 0, scores).mean(axis=1)
        best = min(range(len(candidates)), key=lambda i: (ranks[i], -scores[i].mean()))
        say(f"\n## Stage {stage}\n")
        say("| candidate | " + " | ".join(d.name for d in panel) + " | mean | mean rank |")
        say("|---" * (len(panel) + 3) + "|")
        for i, option in enumerate(options):
            cells = " | ".join(f"{s:.3f}" for s in scores[i])
            mark = " **chosen**" if i == best else ""
            say(f"| {option}{mark} | {cells} | {scores[i].mean():.3f} | {ranks[i]:.2f} |")
        config = candidates[best]
    say(f"\nChosen: {config}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
