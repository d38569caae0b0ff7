"""Every Python snippet in the README runs, and the README opens with the set-up commands."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import rnnfast

README = Path(__file__).resolve().parents[1] / "README.md"


def python_snippets_by_section() -> dict[str, list[str]]:
    """The ```python blocks of each ``## `` section, in order."""
    sections: dict[str, list[str]] = {}
    for part in re.split(r"^## ", README.read_text(), flags=re.MULTILINE)[1:]:
        title = part.splitlines()[0].strip()
        snippets = re.findall(r"```python\n(.*?)```", part, flags=re.DOTALL)
        if snippets:
            sections[title] = snippets
    return sections


SECTIONS = python_snippets_by_section()


def test_readme_opens_with_the_two_setup_commands():
    blocks = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks[0].strip() == "python -m pip install . && rnnfast demo"
    assert blocks[1].strip() == 'python -m pip install ".[test]" && python -m pytest'
    ci = (README.parent / ".ci" / "run").read_text()
    assert blocks[1].strip() in ci


@pytest.mark.parametrize("title", list(SECTIONS))
def test_readme_section_snippets_run(title, capsys):
    """A section's snippets run in order in one namespace, as a script (``__main__``) would,
    the way a reader runs them."""
    threads = rnnfast.config_info()["threads"]
    namespace = {"__name__": "__main__"}
    try:
        for snippet in SECTIONS[title]:
            exec(compile(snippet, str(README), "exec"), namespace)
    finally:
        rnnfast.set_num_threads(threads)


def test_every_snippet_is_tested():
    assert sum(map(len, SECTIONS.values())) == README.read_text().count("```python\n") > 0


@pytest.mark.slow
def test_main_job_runs():
    """The README's main job, exactly: the installed ``rnnfast demo`` console script."""
    script = Path(sys.executable).with_name("rnnfast")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "rnnfast"]
    result = subprocess.run([*command, "demo"], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    bpc = float(re.search(r"held-out bits per character: ([0-9.]+)", result.stdout).group(1))
    assert bpc < 3.0  # uniform over the vocabulary: 6.7
    assert "epoch    8" in result.stdout  # the progress output


def test_check_command(capsys):
    from rnnfast.__main__ import main

    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "blas_corename" in out and "self-check" in out
    error = float(re.search(r"relative error ([0-9.e+-]+)", out).group(1))
    assert error < 1e-6
