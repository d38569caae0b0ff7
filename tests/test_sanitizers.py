"""The C++ core built with AddressSanitizer + UndefinedBehaviorSanitizer (CMake option
``RNNFAST_SANITIZE``), and the parity and gradient tests run against that build: any report
aborts the run, so passing means zero reports.

The build takes about two minutes on two cores; the instrumented run about as long.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pybind11
import pytest

import rnnfast

pytestmark = pytest.mark.slow  # minutes: see the `slow` marker in pyproject.toml

ROOT = Path(__file__).resolve().parents[1]
# what runs under the sanitizers: torch parity of every cell/layout, finite-difference
# gradients, the network head, the property tests' random shapes and layouts, CTC, and the
# reduced-precision kernels
INSTRUMENTED_TESTS = [
    "tests/test_parity_torch.py",
    "tests/test_gradcheck.py",
    "tests/test_network.py",
    "tests/test_truncated_bptt.py::test_truncated_training_matches_torch_with_detached_state",
    "tests/test_properties.py::test_module_matches_torch_on_any_shape_layout_and_magnitude",
    "tests/test_ctc.py",
    # the bfloat16 and int8 kernels: every cell, split, stream and the numpy model of int8
    *(
        f"tests/test_reduced_precision.py::{name}"
        for name in (
            "test_output_within_the_bound_of_float32",
            "test_larger_weights_stay_within_the_bound",
            "test_int8_step_is_torch_style_dynamic_quantization",
            "test_bfloat16_step_multiplies_inputs_and_weights_rounded_to_nearest_even",
            "test_a_sample_does_not_depend_on_its_batch",
            "test_every_step_split_gives_the_same_bits",
            "test_stream_steps_as_forward_does",
            "test_errors",
        )
    ),
]

# Import the package from `package_dir` even when an editable install's finder would redirect
# `rnnfast` to the normal build, then run pytest.
BOOTSTRAP = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "ScikitBuild" not in type(f).__name__]
sys.path.insert(0, sys.argv[1])
from rnnfast.backends import cpu
assert cpu._core.__file__.startswith(sys.argv[1]), cpu._core.__file__
print("instrumented core:", cpu._core.__file__, flush=True)
import pytest
sys.exit(pytest.main(sys.argv[2:]))
"""


def _runtime(name: str) -> str:
    path = subprocess.run(
        ["gcc", f"-print-file-name={name}"], capture_output=True, text=True, check=True
    ).stdout.strip()
    if not os.path.isabs(path):
        pytest.fail(f"gcc does not know {name}; the sanitizer runtimes come with gcc")
    return path


# the CPU level this run uses (forced by RNNFAST_CPU_LEVEL in CI's per-level runs): the only one
# the instrumented build compiles, which halves its time
LEVEL = rnnfast.config_info()["cpu_level"]


@pytest.fixture(scope="module")
def instrumented_package(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("sanitize")
    build = work / "build"
    configure = [
        "cmake",
        "-S",
        str(ROOT),
        "-B",
        str(build),
        "-DRNNFAST_SANITIZE=ON",
        "-DRNNFAST_NATIVE=ON" if LEVEL == "native" else f"-DRNNFAST_CPU_LEVELS={LEVEL}",
        "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
        "-DSKBUILD_PROJECT_NAME=rnnfast",
        "-DSKBUILD_PROJECT_VERSION=0.0",
        f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
        f"-DPython_EXECUTABLE={sys.executable}",
    ]
    for command in (configure, ["cmake", "--build", str(build), "-j", str(os.cpu_count())]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    package = work / "pkg"
    shutil.copytree(
        ROOT / "python" / "rnnfast", package / "rnnfast", ignore=shutil.ignore_patterns("*.so")
    )
    (core,) = build.glob(f"_core_{LEVEL}*.so")
    (cpu_features,) = build.glob("_cpu*.so")
    for module in (core, cpu_features):
        shutil.copy(module, package / "rnnfast")
    return package


def test_parity_tests_pass_under_asan_and_ubsan_with_zero_reports(instrumented_package):
    linked = subprocess.run(
        ["ldd", str(next((instrumented_package / "rnnfast").glob("_core*.so")))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "libasan" in linked and "libubsan" in linked  # the build really is instrumented

    env = dict(
        os.environ,
        RNNFAST_CPU_LEVEL=LEVEL,
        LD_PRELOAD=f"{_runtime('libasan.so')}:{_runtime('libubsan.so')}",
        # Python and torch are not instrumented and keep memory until exit: leaks are not
        # this test's subject (tests/test_leaks.py measures growth instead).
        ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1",
        UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            BOOTSTRAP,
            str(instrumented_package),
            *INSTRUMENTED_TESTS,
            "-q",
            "-p",
            "no:cacheprovider",
            "-x",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    output = done.stdout + done.stderr
    assert "instrumented core:" in output, output[-4000:]
    assert "AddressSanitizer" not in output and "runtime error:" not in output, output[-6000:]
    assert done.returncode == 0, output[-6000:]
    assert " passed" in done.stdout.splitlines()[-1]
