"""Three kernels in isolation, compiled here from the sources in ``bench/micro/``: the int8
product of a step (``Int8Weights``, one thread), the barrier a column split's threads meet
at every step (rnnfast's ``TeamBarrier`` against OpenMP's), and each cell's float32 gate math
(its activations and state update, one thread, nanoseconds per hidden unit and sample).

    python bench/bench_kernels.py [--threads 2] [--quick]

Each program is built with the C++ compiler ``$CXX`` (default ``g++``) at the best CPU level
this machine runs (``-march=x86-64-v4``, ``-v3`` or ``-v2``, as the extension's cores are),
with the extension's math options, against ``csrc/``, into a temporary directory, and run
there: the figures are this machine's. The int8 rows are the shapes of one thread's share of
an LSTM step in a column split on 2 threads (H = 256 and 1024: ``[4 * H / 2, H]``) and of a
batch-64 step.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MICRO = Path(__file__).resolve().parent / "micro"
MARCH = {"avx512": "x86-64-v4", "avx2": "x86-64-v3", "baseline": "x86-64-v2"}
INT8_SHAPES = [(512, 256, 1), (2048, 1024, 1), (1024, 256, 64), (4096, 1024, 64)]
INT8_SHAPES_QUICK = [(512, 256, 1)]
# As CMakeLists.txt compiles the extension: without them the gate loops stay scalar below
# AVX-512 (tests/test_vectorized_cells.py).
EXTENSION_MATH_OPTIONS = ["-fno-math-errno", "-fno-trapping-math"]


def march() -> list[str]:
    """The -march flags of the best CPU level this machine runs (none off x86-64)."""
    from rnnfast import _dispatch

    for level in _dispatch.supported_levels():
        if level in MARCH:
            flags = [f"-march={MARCH[level]}"]
            return flags + (["-mprefer-vector-width=512"] if level == "avx512" else [])
    return []


def build(source: str, directory: str) -> str:
    """Compile ``bench/micro/<source>`` into ``directory``; the executable's path."""
    compiler = os.environ.get("CXX", "g++")
    if shutil.which(compiler) is None:
        raise SystemExit(f"bench_kernels: no C++ compiler {compiler!r} (set CXX)")
    executable = str(Path(directory) / Path(source).stem)
    command = [compiler, "-O3", "-std=c++17", "-fopenmp", *march(), *EXTENSION_MATH_OPTIONS]
    command.append(f"-I{ROOT / 'csrc'}")
    subprocess.run([*command, str(MICRO / source), "-o", executable], check=True)
    return executable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="threads meeting at the barrier")
    parser.add_argument("--quick", action="store_true", help="one int8 shape")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        product = build("int8_product.cpp", directory)
        barrier = build("team_barrier.cpp", directory)
        gate_math = build("gate_math.cpp", directory)
        for shape in INT8_SHAPES_QUICK if args.quick else INT8_SHAPES:
            subprocess.run([product, *map(str, shape)], check=True)
        subprocess.run([barrier, str(args.threads)], check=True)
        subprocess.run([gate_math], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
