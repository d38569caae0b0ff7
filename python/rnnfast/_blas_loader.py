"""Load the compiled core with the best OpenBLAS CPU kernel, without touching numpy's BLAS.

OpenBLAS picks its CPU kernel once, when the library is loaded, and its runtime detection
chooses an AVX2 kernel on some AVX-512 CPUs (AMD Zen 4/5 among them), which halves SGEMM
throughput. Our BLAS is ``scipy_openblas32``'s ``libscipy_openblas``, a different library from
numpy's, so setting ``OPENBLAS_CORETYPE`` just while *ours* loads affects only ours. The
variables are restored right after, so child processes and numpy never see them.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import platform
from collections.abc import Iterator
from types import ModuleType

from rnnfast import _dispatch

# Set this to force the kernel of rnnfast's own BLAS (e.g. "Haswell"); OPENBLAS_CORETYPE set by
# the user is honoured too, as OpenBLAS itself would.
CORETYPE_ENV = "RNNFAST_OPENBLAS_CORETYPE"
_AVX512_FLAGS = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def preferred_coretype() -> str | None:
    """The OpenBLAS kernel to force for rnnfast's BLAS, or None to keep OpenBLAS's choice."""
    if os.environ.get(CORETYPE_ENV):
        return os.environ[CORETYPE_ENV]
    if os.environ.get("OPENBLAS_CORETYPE"):
        return None
    if platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64"):
        if _AVX512_FLAGS <= _cpu_flags():
            return "SkylakeX"
    return None


@contextlib.contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set the non-None ``values`` in os.environ for the duration, then restore."""
    saved = {name: os.environ.get(name) for name, value in values.items() if value is not None}
    os.environ.update({name: value for name, value in values.items() if value is not None})
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                del os.environ[name]
            else:
                os.environ[name] = old


def load_core() -> ModuleType:
    """Import the core for this CPU (:mod:`rnnfast._dispatch`) after loading its OpenBLAS with
    the preferred kernel."""
    import numpy  # noqa: F401  (numpy's own BLAS is initialised before the variable is set)
    import scipy_openblas32

    # One thread: OpenMP drives parallelism and each block calls BLAS single-threaded, so a
    # pool of OpenBLAS threads would only sit there polling for work.
    load_env = {"OPENBLAS_CORETYPE": preferred_coretype(), "OPENBLAS_NUM_THREADS": "1"}
    with _environment(load_env):
        # Loading by path also makes an in-place or editable build find the library.
        for path in sorted(glob.glob(os.path.join(scipy_openblas32.get_lib_dir(), "lib*"))):
            if ".so" in path or path.endswith((".dylib", ".dll")):
                ctypes.CDLL(path)
                break
        return _dispatch.import_core(_dispatch.select_level())
