"""The command line every example shares: ``--seeds N``, ``--quick`` and, for figures,
``--plot PATH``."""

from __future__ import annotations

import argparse


def example_parser(doc: str, quick_help: str, plot: str | None = None):
    """An ArgumentParser described by the first line of ``doc``."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=1, help="runs with seeds 0 .. n-1")
    parser.add_argument("--quick", action="store_true", help=quick_help)
    if plot is not None:
        parser.add_argument("--plot", default=plot, help="where to save the figure")
    return parser


def mean_sd(values, fmt: str = "{:.3f}") -> str:
    """``"mean ± sd"`` of ``values`` (population sd), each formatted with ``fmt``."""
    import numpy as np

    return f"{fmt.format(np.mean(values))} ± {fmt.format(np.std(values))}"
