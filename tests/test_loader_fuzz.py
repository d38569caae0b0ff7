"""rnnfast.load under 2,000+ mutated files (reliability issue): each one is either a correct
load (the model predicts finite values of the right shape) or a ModelFileError, never another
exception, and the loader's peak memory stays bounded (measured in a fresh process)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow  # minutes: see the `slow` marker in pyproject.toml

FUZZER = pathlib.Path(__file__).with_name("loader_fuzz.py")


@pytest.mark.parametrize("seed", [0, 1])
def test_mutated_files_load_correctly_or_raise_model_file_error(seed):
    done = subprocess.run(
        [sys.executable, str(FUZZER), "1500", str(seed)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["failures"] == []
    tally = result["tally"]
    assert sum(k["loaded"] + k["refused"] for k in tally.values()) == 1500
    # every kind of mutation was refused somewhere, and some mutated files loaded correctly
    assert all(k["refused"] > 0 for k in tally.values())
    assert sum(k["loaded"] for k in tally.values()) > 0
    # the models are a few KB: whatever sizes the files claim, the loader never holds more
    assert result["peak_growth_mb"] < 64, result["peak_growth_mb"]
