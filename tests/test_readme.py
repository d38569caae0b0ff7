"""Every Python snippet in the README runs, and the README opens with the set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import rnnfast

README = Path(__file__).resolve().parents[1] / "README.md"
SNIPPETS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_readme_opens_with_the_two_setup_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks[0].strip() == "python -m pip install . && python -m rnnfast"
    assert blocks[1].strip() == 'python -m pip install ".[test]" && python -m pytest'
    ci = (README.parent / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci


@pytest.mark.parametrize("snippet", SNIPPETS, ids=[f"snippet{i}" for i in range(len(SNIPPETS))])
def test_readme_snippet_runs(snippet, capsys):
    threads = rnnfast.config_info()["threads"]
    try:
        exec(compile(snippet, str(README), "exec"), {})
    finally:
        rnnfast.set_num_threads(threads)


def test_main_job_runs(capsys):
    from rnnfast.__main__ import main

    assert main([]) == 0
    out = capsys.readouterr().out
    assert "blas_corename" in out and "self-check" in out
    error = float(re.search(r"relative error ([0-9.e+-]+)", out).group(1))
    assert error < 1e-6
