"""Anomaly detection on a real series: weekly CO2 at Mauna Loa (1958-2001), with the anomalies
plotted.

    python examples/anomaly_detection.py [--seeds 3] [--plot anomalies.png] [--quick]

The series is cut into years of 52 weeks, each centred on its own mean (the seasonal shape is
what matters; the trend is not an anomaly). An ``RNNAnomalyDetector`` learns to forecast each
week from the weeks before it; a week's score is its squared forecast error. Twelve weeks, drawn
at random, get a +/-2 ppm glitch added (about 1.5x the seasonal swing's weekly step), so the
metric is checkable: the share of those glitches among the 12 highest-scoring weeks of the whole
series (precision at 12). The plot marks the 24 highest-scoring weeks.
"""

from __future__ import annotations

import time

import numpy as np
from _cli import example_parser, mean_sd

import rnnfast
from rnnfast import datasets

WEEKS, N_GLITCHES, GLITCH_PPM = 52, 12, 2.0
PARAMS = dict(hidden_size=32, max_epochs=60)


def years_with_glitches(seed: int):
    """(series with glitches, its (years, 52) centred windows, glitch positions)."""
    series = datasets.load_co2().series.copy()
    rng = np.random.default_rng(seed)
    n_years = len(series) // WEEKS
    positions = rng.choice(np.arange(WEEKS, n_years * WEEKS), N_GLITCHES, replace=False)
    series[positions] += rng.choice([-1, 1], N_GLITCHES) * GLITCH_PPM
    years = series[: n_years * WEEKS].reshape(n_years, WEEKS)
    return series, years - years.mean(axis=1, keepdims=True), np.sort(positions)


def run(seed: int, quick: bool = False) -> dict:
    series, years, glitches = years_with_glitches(seed)
    params = dict(PARAMS, random_state=seed, max_epochs=5 if quick else PARAMS["max_epochs"])
    detector = rnnfast.RNNAnomalyDetector(**params)
    start = time.perf_counter()
    detector.fit(years)
    seconds = time.perf_counter() - start
    scores = detector.step_scores(years).ravel()
    top = np.argsort(scores)[::-1]
    precision = np.isin(top[:N_GLITCHES], glitches).mean()
    return {
        "precision_at_12": float(precision),
        "seconds": seconds,
        "series": series,
        "scores": scores,
        "glitches": glitches,
        "top": top,
    }


def main(argv: list[str] | None = None) -> None:
    args = example_parser(__doc__, "5 epochs", plot="anomalies.png").parse_args(argv)
    results = [run(seed, args.quick) for seed in range(args.seeds)]
    precision = [r["precision_at_12"] for r in results]
    print(
        f"co2: precision at {N_GLITCHES} of the injected glitches "
        f"{mean_sd(precision)} "
        f"(training {np.mean([r['seconds'] for r in results]):.1f} s per run)"
    )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        from rnnfast.plotting import plot_anomalies

        r = results[0]
        n = len(r["scores"])
        flagged = np.zeros(n, bool)
        flagged[r["top"][: 2 * N_GLITCHES]] = True
        ax = plot_anomalies(r["series"][:n], flagged)
        ax.scatter(
            r["glitches"],
            r["series"][r["glitches"]],
            facecolors="none",
            edgecolors="blue",
            s=60,
            label="injected glitch",
        )
        ax.legend()
        ax.set_title("weekly CO2 at Mauna Loa: highest forecast-error weeks")
        ax.figure.savefig(args.plot, dpi=80)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()
