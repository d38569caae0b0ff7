"""Every cell's gate loop compiles to vector code at every x86-64 CPU level.

The loops carry ``#pragma omp simd``, but that is a request: GCC left the LSTM, GRU and RNN
forward loops (and the LSTM's backward) scalar at the AVX2 and baseline levels until the build
passed ``-fno-trapping-math`` (the activations' select kept a division behind a branch), and
every LSTM/GRU step on an AVX2 CPU ran 2-2.5x slower for it, with no test noticing. This test
compiles the cells with the options and level flags ``CMakeLists.txt`` gives the extension and
reads GCC's vectorisation report for each of those loops (float32: the float64 path calls the C
library's exp and tanh on purpose, for exact gradient checks, and stays scalar).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CELLS = ROOT / "csrc" / "cells"

# Instantiates each cell's float forward (inference and training) and backward.
PROBE = """
#include "cells/gru_cell.h"
#include "cells/lstm_cell.h"
#include "cells/rnn_cell.h"
namespace rnnfast {
template <class Cell>  // n unknown, arrays apart: as in the layers
void instantiate(int n, float* const* p) {
  Cell::template forward<float, false>(n, n, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
  Cell::template forward<float, true>(n, n, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]);
  Cell::template backward<float>(n, n, p[0], p[1], p[2], p[3], p[4], p[5], p[8], p[9]);
}
template void instantiate<LstmCell>(int, float* const*);
template void instantiate<GruCell>(int, float* const*);
template void instantiate<RnnTanhCell>(int, float* const*);
template void instantiate<RnnReluCell>(int, float* const*);
}  // namespace rnnfast
"""


def _cmake_options() -> tuple[list[str], dict[str, list[str]]]:
    """The extension's common compile options and each x86-64 level's flags, from CMakeLists."""
    text = (ROOT / "CMakeLists.txt").read_text()
    common = re.search(r"set\(RNNFAST_COMPILE_OPTIONS ([^)]*)\)", text)
    assert common, "CMakeLists.txt no longer sets RNNFAST_COMPILE_OPTIONS"
    levels = {}
    for level in ("baseline", "avx2", "avx512"):
        found = re.search(rf'level STREQUAL "{level}"\).*?set\(flags ([^)]*)\)', text, re.S)
        assert found, f"CMakeLists.txt no longer sets the flags of level {level}"
        levels[level] = found.group(1).split("#")[0].split()
    return common.group(1).split(), levels


def _gcc() -> str | None:
    compiler = shutil.which(os.environ.get("CXX", "g++"))
    if compiler is None:
        return None
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True).stdout
    return compiler if "Free Software Foundation" in version else None


def _simd_loops() -> list[tuple[str, int]]:
    """(file name, line) of each ``#pragma omp simd`` in the cells."""
    loops = []
    for header in sorted(CELLS.glob("*.h")):
        lines = header.read_text().splitlines()
        loops += [(header.name, i + 1) for i, line in enumerate(lines) if "omp simd" in line]
    return loops


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 levels")
@pytest.mark.skipif(not CELLS.is_dir(), reason="needs the source tree (csrc/)")
@pytest.mark.parametrize("level", ["baseline", "avx2", "avx512"])
def test_every_cell_loop_is_vectorised(level, tmp_path):
    compiler = _gcc()
    if compiler is None:
        pytest.skip("the report read here is GCC's (-fopt-info-vec); no g++ found")
    common, levels = _cmake_options()
    source = tmp_path / "cells.cpp"
    source.write_text(PROBE)
    flags = ["-std=c++17", "-O3", "-fopenmp", *common, *levels[level], f"-I{ROOT / 'csrc'}"]
    done = subprocess.run(
        [compiler, *flags, "-fopt-info-vec-optimized", "-c", str(source), "-o", os.devnull],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    vectorised = {
        (Path(m.group(1)).name, int(m.group(2)))
        for m in re.finditer(r"([\w./-]+):(\d+):\d+: optimized: loop vectorized", done.stderr)
    }
    loops = _simd_loops()
    assert len(loops) >= 6  # forward and backward of three cells
    # GCC places its report on the loop's line or on a statement just inside it.
    scalar = [
        f"{name}:{line}"
        for name, line in loops
        if not any((name, line + k) in vectorised for k in (1, 2, 3))
    ]
    assert not scalar, f"scalar at level {level}: {scalar}"


# A call to one of these from a gate loop keeps the loop scalar.
_ACTIVATION_CALL = re.compile(
    r"call\s.*<rnnfast::(exp_approx|tanh_approx|sigmoid|tanh_act)\(float\)"
)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 levels")
def test_the_built_cores_inline_every_float_activation():
    # The probe above compiles the cells alone, where GCC inlines everything; in the
    # extension's large translation units its inliner once left exp_approx out of line in
    # the LSTM's and GRU's inference loops, scalar at every level while the probe passed. So
    # read the machine code of the cores this installation loads.
    import importlib.util

    from rnnfast import _dispatch

    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("no objdump (binutils) to read the built cores")
    for level in _dispatch.built_levels():
        core = importlib.util.find_spec(f"rnnfast._core_{level}").origin
        listing = subprocess.run(
            [objdump, "-d", "-C", "--no-show-raw-insn", core],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        calls = sorted({m.group(1) for m in _ACTIVATION_CALL.finditer(listing)})
        assert not calls, f"{level}: float activations called out of line: {calls}"
