"""Choose the compiled core for this CPU, once, at import.

The C++ kernels are built once per CPU level, each as its own extension module
``rnnfast._core_<level>`` (see ``CMakeLists.txt``):

========== ======================================================= ===========================
level      instructions                                            built on
========== ======================================================= ===========================
baseline   x86-64-v2 (SSE4.2, POPCNT); the compiler's default       every platform
           elsewhere
avx2       x86-64-v3 (AVX2, FMA, BMI1/2, F16C)                      x86-64
avx512     x86-64-v4 (AVX-512 F/BW/CD/DQ/VL), 512-bit vectors       x86-64
native     the building machine's own CPU (``RNNFAST_NATIVE=ON``)   opt-in builds only
========== ======================================================= ===========================

The best level that is both built and supported by this CPU is loaded; ``RNNFAST_CPU_LEVEL``
forces one (for tests, or to compare levels). The small ``rnnfast._cpu`` module, compiled for
no particular level, answers what the CPU supports (cpuid, and whether the operating system
saves the wide registers), so no instruction the CPU lacks is ever executed.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType

LEVEL_ENV = "RNNFAST_CPU_LEVEL"
# best first; "native" is only ever built alone, and then it is the one to load
LEVELS = ("native", "avx512", "avx2", "baseline")


def built_levels() -> list[str]:
    """The CPU levels this installation holds a core module for, best first."""
    return [
        level for level in LEVELS if importlib.util.find_spec(f"rnnfast._core_{level}") is not None
    ]


def supported_levels() -> list[str]:
    """The CPU levels this processor runs, best first (``native`` aside: see :func:`runs_here`)."""
    from rnnfast import _cpu

    return list(reversed(_cpu.supported_levels()))


def runs_here(level: str) -> bool:
    """Whether this CPU runs ``level`` (a ``native`` build is assumed to run where it is used)."""
    return level == "native" or level in supported_levels()


def select_level(requested: str | None = None) -> str:
    """The level to load: ``requested`` (or ``$RNNFAST_CPU_LEVEL``), else the best available.

    Raises
    ------
    ValueError
        If the requested level is unknown, not built, or not supported by this CPU.
    ImportError
        If no built level runs on this CPU.
    """
    if requested is None:
        requested = os.environ.get(LEVEL_ENV, "").strip().lower() or "auto"
    built = built_levels()
    if requested == "auto":
        for level in built:
            if runs_here(level):
                return level
        raise ImportError(
            f"none of rnnfast's compiled CPU levels {built} runs on this CPU (it supports "
            f"{supported_levels() or 'none'}); rebuild from source: "
            "pip install --no-binary rnnfast rnnfast"
        )
    if requested not in LEVELS:
        raise ValueError(f"{LEVEL_ENV} must be 'auto' or one of {list(LEVELS)}, got {requested!r}")
    if requested not in built:
        raise ValueError(f"{LEVEL_ENV}={requested!r}: this installation built only {built}")
    if not runs_here(requested):
        raise ValueError(
            f"{LEVEL_ENV}={requested!r}: this CPU does not support it (it supports "
            f"{supported_levels()}); running it would crash with an illegal instruction"
        )
    return requested


def import_core(level: str) -> ModuleType:
    """Import the core module compiled for ``level`` (check it with :func:`select_level`)."""
    return importlib.import_module(f"rnnfast._core_{level}")
