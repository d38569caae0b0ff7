"""The examples gallery: one page per script in ``examples/``, its docstring as the text and its
source below, written into ``docs/examples/`` when Sphinx reads ``conf.py``.

The scripts train real models for minutes each, so the gallery shows them rather than running
them during the build.
"""

from __future__ import annotations

import ast
from pathlib import Path


def _page(script: Path) -> tuple[str, str]:
    """(title, Markdown page) of one example script."""
    doc = ast.get_docstring(ast.parse(script.read_text())) or ""
    title, _, rest = doc.partition("\n")
    title = title.rstrip(".") or script.stem
    page = [
        f"# {script.stem}: {title}",
        "",
        rest.strip(),
        "",
        "Run it from a clone of the repository:",
        "",
        "```bash",
        f"python examples/{script.name}",
        "```",
        "",
        "```{literalinclude} " + f"../../examples/{script.name}",
        ":language: python",
        "```",
        "",
    ]
    return title, "\n".join(page)


def write_gallery(examples: Path, out: Path) -> None:
    """Write ``out/index.md`` and a page per public script of ``examples``."""
    out.mkdir(exist_ok=True)
    entries = []
    for script in sorted(examples.glob("[!_]*.py")):
        title, page = _page(script)
        target = out / f"{script.stem}.md"
        if not target.exists() or target.read_text() != page:  # keep Sphinx's cache valid
            target.write_text(page)
        entries.append((script.stem, title))
    index = [
        "# Examples gallery",
        "",
        "Complete scripts on real data, each with a `--quick` mode and `--seeds N` to repeat it.",
        "",
        "```{toctree}",
        ":maxdepth: 1",
        "",
        *(stem for stem, _ in entries),
        "```",
        "",
    ]
    (out / "index.md").write_text("\n".join(index))
