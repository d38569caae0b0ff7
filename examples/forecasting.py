"""Forecasting two classic series, with a plot of forecast vs truth.

    python examples/forecasting.py [--seeds 3] [--plot forecasts.png] [--quick]

- airline passengers (monthly, 1949-1960): the last 24 months are held out. The series grows and
  its seasonal swing grows with it, so the network learns the *year-on-year change of the log*
  (``log y[t] - log y[t-12]``) and the forecast is rebuilt from it.
- sunspots (yearly, 1700-2008): the last 30 years are held out; the network reads 22 years and
  predicts the next, recursively.

Each is compared on the same split with seasonal-naive (repeat the last season: 12 months, an
11-year cycle) and a statsmodels baseline (Holt-Winters for airline, AR(9) ARIMA for sunspots).
Metric: mean absolute error over the held-out steps.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from _cli import example_parser, mean_sd

import rnnfast
from rnnfast import datasets

# name -> (loader, held-out steps, season, log + seasonal difference?, RNNForecaster params)
CONFIGS = {
    "airline": (
        datasets.load_airline,
        24,
        12,
        True,
        dict(window=24, horizon=12, max_epochs=200),
    ),
    "sunspots": (
        datasets.load_sunspots,
        30,
        11,
        False,
        dict(window=22, horizon=1, hidden_size=64, max_epochs=300),
    ),
}


def mae(forecast, truth) -> float:
    return float(np.mean(np.abs(np.asarray(forecast) - truth)))


def seasonal_naive(train: np.ndarray, steps: int, season: int) -> np.ndarray:
    return np.array([train[len(train) - season + h % season] for h in range(steps)])


def statsmodels_baseline(name: str, train: np.ndarray, steps: int) -> np.ndarray:
    from statsmodels.tsa.arima.model import ARIMA
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter
        if name == "airline":
            model = ExponentialSmoothing(train, trend="add", seasonal="mul", seasonal_periods=12)
            return model.fit().forecast(steps)
        return ARIMA(train, order=(9, 0, 0)).fit().forecast(steps)


def rnn_forecast(train, steps, season, seasonal_log_diff, params, seed, quick=False):
    params = dict(params, random_state=seed)
    if quick:
        params["max_epochs"] = 20
    model = rnnfast.RNNForecaster(**params)
    if not seasonal_log_diff:
        return model.fit_series(train).forecast(train, steps=steps), model
    log = np.log(train)
    change = log[season:] - log[:-season]
    predicted = model.fit_series(change).forecast(change, steps=steps)
    levels = list(log)
    for value in predicted:  # log y[t] = change[t] + log y[t - season]
        levels.append(value + levels[-season])
    return np.exp(np.array(levels[-steps:])), model


def run(name: str, seed: int, quick: bool = False) -> dict:
    loader, test, season, seasonal_log_diff, params = CONFIGS[name]
    data = loader()
    train, truth = data.series[:-test], data.series[-test:]
    start = time.perf_counter()
    forecast, model = rnn_forecast(train, test, season, seasonal_log_diff, params, seed, quick)
    seconds = time.perf_counter() - start
    naive = seasonal_naive(train, test, season)
    baseline = statsmodels_baseline(name, train, test)
    return {
        "mae": mae(forecast, truth),
        "seconds": seconds,
        "naive_mae": mae(naive, truth),
        "baseline_mae": mae(baseline, truth),
        "forecast": forecast,
        "naive": naive,
        "baseline": baseline,
        "data": data,
        "test": test,
        "model": model,
    }


def main(argv: list[str] | None = None) -> None:
    args = example_parser(__doc__, "20 epochs", plot="forecasts.png").parse_args(argv)
    last = {}
    for name in CONFIGS:
        results = [run(name, seed, args.quick) for seed in range(args.seeds)]
        errors = [r["mae"] for r in results]
        last[name] = results[0]
        print(
            f"{name}: MAE rnnfast {mean_sd(errors, '{:.2f}')} | "
            f"seasonal-naive {results[0]['naive_mae']:.2f} | "
            f"{'Holt-Winters' if name == 'airline' else 'ARIMA(9,0,0)'} "
            f"{results[0]['baseline_mae']:.2f}"
        )
    if args.plot:
        save_plot(last, args.plot)
        print(f"plot: {args.plot}")


def save_plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rnnfast.plotting import plot_forecast

    fig, axes = plt.subplots(len(results), 1, figsize=(9, 4 * len(results)))
    for ax, (name, r) in zip(axes, results.items(), strict=True):
        series, test = r["data"].series, r["test"]
        shown = 4 * test  # the last stretch of history before the forecast
        plot_forecast(
            series[-test - shown : -test],
            series[-test:],
            {"rnnfast": r["forecast"], "seasonal naive": r["naive"], "statsmodels": r["baseline"]},
            ax=ax,
        )
        ax.set_title(f"{name}: last {test} steps held out")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


if __name__ == "__main__":
    main()
