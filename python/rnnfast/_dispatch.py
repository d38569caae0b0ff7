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

Within the AVX-512 level, the int8 and bfloat16 kernels also use AVX512-VNNI and AVX512-BF16
where cpuid reports them; ``RNNFAST_DISABLE_CPU_FEATURES=avx512vnni,avx512bf16`` (either or
both) turns them off, so a CPU that has them runs the kernels CPUs without them take.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from types import ModuleType

LEVEL_ENV = "RNNFAST_CPU_LEVEL"
# best first; "native" is only ever built alone, and then it is the one to load
LEVELS = ("native", "avx512", "avx2", "baseline")
DISABLE_ENV = "RNNFAST_DISABLE_CPU_FEATURES"
# the instructions the core checks for at run time (csrc/core/cpu_features.h)
OPTIONAL_FEATURES = ("avx512vnni", "avx512bf16")


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


def disabled_features(setting: str | None = None) -> list[str]:
    """The optional instructions ``setting`` (or ``$RNNFAST_DISABLE_CPU_FEATURES``) turns off.

    Raises
    ------
    ValueError
        If it names anything but :data:`OPTIONAL_FEATURES`, comma-separated (the core reads
        the variable itself, and would silently ignore a misspelt name).
    """
    if setting is None:
        setting = os.environ.get(DISABLE_ENV, "")
    names = [name for name in setting.split(",") if name]
    unknown = [name for name in names if name not in OPTIONAL_FEATURES]
    if unknown or (setting and setting != ",".join(names)):
        raise ValueError(
            f"{DISABLE_ENV} must be a comma-separated list of {list(OPTIONAL_FEATURES)} "
            f"without spaces, got {setting!r}"
        )
    return names


def import_core(level: str) -> ModuleType:
    """Import the core module compiled for ``level`` (check it with :func:`select_level`)."""
    disabled_features()
    return importlib.import_module(f"rnnfast._core_{level}")
