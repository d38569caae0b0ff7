"""The documentation site: it builds with no warning (numpydoc's docstring validation
included), every Python snippet on its pages runs, and the API reference lists the public API."""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import rnnfast

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(
    p for p in DOCS.rglob("*.md") if "_build" not in p.parts and "examples" not in p.parts
)


def python_snippets(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.DOTALL)


PAGES_WITH_SNIPPETS = [page for page in PAGES if python_snippets(page)]


@pytest.mark.slow
@pytest.mark.parametrize("page", PAGES_WITH_SNIPPETS, ids=lambda p: str(p.relative_to(DOCS)))
def test_page_snippets_run(page, capsys):
    """A page's snippets run in order in one namespace, as a reader running them would."""
    threads = rnnfast.config_info()["threads"]
    namespace = {"__name__": "__main__"}
    try:
        for snippet in python_snippets(page):
            exec(compile(snippet, str(page), "exec"), namespace)
    finally:
        rnnfast.set_num_threads(threads)


def test_the_user_guide_has_its_pages_and_snippets():
    names = {str(p.relative_to(DOCS)) for p in PAGES}
    for page in (
        "index.md",
        "getting-started.md",
        "guide/estimators.md",
        "nn.md",
        "persistence.md",
        "deployment.md",
        "performance.md",
        "configuration.md",
    ):
        assert page in names
    assert len(PAGES_WITH_SNIPPETS) >= 10


REFERENCE = (DOCS / "api" / "index.rst").read_text()
PUBLIC_MODULES = [
    "rnnfast",
    "rnnfast.callbacks",
    "rnnfast.nn",
    "rnnfast.optim",
    "rnnfast.data",
    "rnnfast.datasets",
    "rnnfast.metrics",
    "rnnfast.plotting",
    "rnnfast.panel",
    "rnnfast.dask",
    "rnnfast.interop",
    "rnnfast.sktime",
]


def public_callables() -> dict[str, object]:
    """Every public class and function of the public modules, by its shortest public name."""
    found: dict[int, tuple[str, object]] = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", dir(module)):
            obj = getattr(module, name)
            if name.startswith("_") or not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if not getattr(obj, "__module__", "").startswith("rnnfast"):
                continue
            found.setdefault(id(obj), (f"{module_name}.{name}", obj))
    return dict(found.values())


def test_the_api_reference_lists_every_public_class_and_function():
    listed = set()
    current = ""
    for line in REFERENCE.splitlines():
        if line.startswith(".. currentmodule:: "):
            current = line.split()[-1]
        elif line.startswith("   ") and not line.strip().startswith(":") and line.strip():
            listed.add(f"{current}.{line.strip()}")
    objects = {
        id(importlib.import_module(n.rpartition(".")[0]).__dict__.get(n.rpartition(".")[2]))
        for n in listed
        if "." in n
    }
    missing = []
    for name, obj in public_callables().items():
        if id(obj) in objects:
            continue
        # listed under another public path (e.g. rnnfast.data.audio.log_mel_spectrogram)
        if not any(entry.endswith("." + obj.__name__) for entry in listed):
            missing.append(name)
    assert not missing, f"not in docs/api/index.rst: {missing}"


# The checks waived, as in docs/conf.py: examples, See Also and extended summaries are asked of
# the user guide rather than of every method; GL01/GL02/RT02 are layout rules scikit-learn
# also waives.
WAIVED = {"EX01", "SA01", "ES01", "GL01", "GL02", "RT02"}


def public_api_names() -> list[str]:
    """Every public class and function, and every public method and property of the classes
    that rnnfast defines (not the ones inherited from scikit-learn), by public name."""
    names = []
    for name, obj in sorted(public_callables().items()):
        names.append(name)
        if not inspect.isclass(obj):
            continue
        for attribute in dir(obj):
            if attribute.startswith("_"):
                continue
            owner = next((c for c in obj.__mro__ if attribute in vars(c)), None)
            member = inspect.getattr_static(obj, attribute)
            member = getattr(member, "__func__", member)
            if owner is None or not owner.__module__.startswith("rnnfast"):
                continue
            if inspect.isfunction(member) or isinstance(member, property):
                names.append(f"{name}.{attribute}")
    return names


def test_the_public_api_passes_numpydoc_validation():
    from numpydoc.validate import validate

    names = public_api_names()
    assert len(names) > 150
    failures = [
        f"{name}: {code} {message}"
        for name in names
        for code, message in validate(name)["errors"]
        if code not in WAIVED
    ]
    assert not failures, "\n".join(failures)


@pytest.mark.slow
def test_the_site_builds_with_no_warning(tmp_path):
    """``sphinx-build -W``: any warning fails, numpydoc's validation of every documented
    object included (``numpydoc_validation_checks`` in ``docs/conf.py``)."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-q",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-6000:]
    assert (tmp_path / "html" / "api" / "generated" / "rnnfast.RNNClassifier.html").exists()
    assert (tmp_path / "html" / "examples" / "classification.html").exists()
