"""The package's layers, as its import graph: no cycle, and every import points down.

Every ``import`` counts, at module level or deferred into a function: a deferred import still
ties the two modules together, it only hides the cycle from Python. The graph is read from the
source (``ast``), so this test imports nothing it checks.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "python" / "rnnfast"
# compiled modules (the per-CPU-level cores and the CPU probe): leaves of the graph
EXTENSION = re.compile(r"rnnfast\.(_cpu|_core_\w+)")

# lowest first; a module may import its own layer (within its own package) and those below
LAYERS = {
    "foundation": [
        "rnnfast._version",
        "rnnfast._validation",
        "rnnfast._docstrings",
        "rnnfast._model_archive",
        "rnnfast.persistence",
        "rnnfast._saving",
        "rnnfast.metrics",
        "rnnfast._dispatch",
        "rnnfast._blas_loader",
        "rnnfast.backends",
    ],
    "building blocks": ["rnnfast.nn", "rnnfast.optim", "rnnfast.data"],
    "estimators": ["rnnfast.estimators", "rnnfast.callbacks"],
    "applications": [
        "rnnfast.interop",
        "rnnfast.onnx",
        "rnnfast.sktime",
        "rnnfast.dask",
        "rnnfast.panel",
        "rnnfast.plotting",
        "rnnfast.datasets",
        "rnnfast.benchmark",
        "rnnfast.benchmark_small_batch",
        "rnnfast._config",
        "rnnfast.__main__",
        "rnnfast",
    ],
}


def module_files() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def _target(name: str) -> str | None:
    """The module of ours that importing ``name`` runs last (a name inside a module: that
    module; a compiled module: none)."""
    if EXTENSION.fullmatch(name):
        return None
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for name, path in MODULES.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                imported = [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for full in imported:
                if full.startswith("rnnfast"):
                    target = _target(full)
                    if target is not None and target != name:
                        graph[name].add(target)
    return graph


GRAPH = import_graph()


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for successor in sorted(graph[node]):
            if state.get(successor) == 1:
                return [*path[path.index(successor) :], successor]
            if successor not in state and (cycle := visit(successor)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def layer_of(module: str) -> tuple[int, str]:
    """(layer index, the layer entry that owns ``module``): the longest matching prefix."""
    best = None
    for index, entries in enumerate(LAYERS.values()):
        for entry in entries:
            if module == entry or (module.startswith(entry + ".") and entry != "rnnfast"):
                if best is None or len(entry) > len(best[1]):
                    best = (index, entry)
    assert best is not None, f"{module} is in no layer: add it to LAYERS"
    return best


def test_the_graph_is_read_from_every_module():
    assert len(MODULES) > 50
    assert "rnnfast.persistence" in GRAPH["rnnfast.nn.recurrent"]  # a module-level import
    assert "rnnfast.interop._torch_modules" in GRAPH["rnnfast.interop.torch"]  # a deferred one


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(GRAPH)
    assert cycle is None, " -> ".join(cycle)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down_the_layers(module):
    own_layer, own_entry = layer_of(module)
    for imported in sorted(GRAPH[module]):
        layer, entry = layer_of(imported)
        if layer == own_layer:
            # nn, optim and data are independent of each other; the foundation's and the
            # applications' modules may use each other (the cycle test still guards them)
            independent = list(LAYERS).index("building blocks") == layer
            assert entry == own_entry or not independent, (
                f"{module} imports {imported}, a sibling in the same layer"
            )
        else:
            assert layer < own_layer, f"{module} ({own_entry}) imports {imported}, a layer above"


def test_persistence_depends_on_nothing_of_rnnfast_but_its_archive_and_version():
    assert GRAPH["rnnfast.persistence"] <= {"rnnfast._model_archive", "rnnfast._version"}


def test_shared_validation_imports_nothing_of_rnnfast():
    assert GRAPH["rnnfast._validation"] == set()
