"""Runtime configuration report and thread control."""

from __future__ import annotations

import os
import platform
import sys

import numpy as np

from rnnfast._version import __version__
from rnnfast.backends import cpu


def config_info() -> dict[str, object]:
    """Describe what this installation runs on.

    Returns
    -------
    dict of str to object
        The version, CPU level of the core (loaded, built, supported), BLAS and its CPU
        kernel, OpenMP and the thread counts.
    """
    info: dict[str, object] = {
        "rnnfast": __version__,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} logical CPUs",
    }
    info.update(cpu.runtime_info())
    return info


def show_config() -> None:
    """Print :func:`config_info`, one ``key: value`` line each."""
    info = config_info()
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:>{width}}: {value}")


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for BLAS and for the fused pointwise passes.

    ``threadpoolctl.threadpool_limits`` works as well: it finds rnnfast's OpenBLAS and OpenMP.

    Parameters
    ----------
    n : int
        A positive thread count; it caps rnnfast's threads for the whole process.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    cpu.set_num_threads(n)


def release_workspaces() -> int:
    """Free the buffers rnnfast keeps between calls.

    Layer calls take their large buffers (packed weights, inference workspaces) from a pool
    and give them back when they return, so the next call of a similar shape reuses them
    instead of faulting in fresh pages from the system (at batch 1 that was most of a call's
    time). The pool holds at most 512 MiB of idle buffers; this frees them now, e.g. after
    serving a large model that will not run again.

    Returns
    -------
    int
        The bytes given back to the system.
    """
    return cpu.release_workspaces()
