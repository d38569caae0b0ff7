"""Sphinx configuration of rnnfast's documentation site.

Build: ``python -m sphinx -W --keep-going -b html docs docs/_build/html`` (``tests/test_docs.py``
runs exactly that, warnings as errors). Tools, each for one job: MyST reads the Markdown pages,
numpydoc renders (and validates) the NumPy-style docstrings, autosummary writes the API
reference pages, furo is the theme.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gallery import write_gallery  # noqa: E402

import rnnfast  # noqa: E402  (the installed package is what the reference documents)

project = "rnnfast"
author = "The rnnfast developers"
copyright = "2026, The rnnfast developers"
release = rnnfast.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
templates_path = ["_templates"]
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"  # numpydoc's Parameters sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
# numpydoc's validation runs on every documented object; with -W a failure fails the build.
# Examples, See Also and extended summaries are asked of the user guide instead of every method;
# GL01/GL02/RT02 are layout rules scikit-learn also waives.
numpydoc_validation_checks = {"all", "EX01", "SA01", "ES01", "GL01", "GL02", "RT02"}

intersphinx_mapping = {}  # offline builds: no inventories fetched
nitpicky = False

html_theme = "furo"
html_title = f"rnnfast {release}"

write_gallery(HERE.parent / "examples", HERE / "examples")


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Leave out what classes inherit from scikit-learn (``get_params``, metadata routing's
    ``set_*_request``...): scikit-learn documents those, and its docstrings use its own site's
    cross-references."""
    if name == "get_metadata_routing" or (name.startswith("set_") and name.endswith("_request")):
        return True
    function = getattr(obj, "fget", obj)
    if (getattr(function, "__module__", None) or "").startswith("sklearn"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
