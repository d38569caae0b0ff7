"""Docstring parameter blocks shared by several classes, filled in where a placeholder stands."""

from __future__ import annotations

import re
import textwrap


def fill_parameters(doc: str, placeholder: str, block: str) -> str:
    """Return ``doc`` with the line holding ``placeholder`` replaced by ``block``.

    ``block`` holds numpydoc parameter entries; they are indented like the docstring's
    ``Parameters`` header, so numpydoc and ``inspect.getdoc`` read one consistent section
    whatever the placeholder's own indent.

    Parameters
    ----------
    doc : str
        The docstring.
    placeholder : str
        The text standing alone on a line of ``doc``, e.g. ``"%(shared_parameters)s"``.
    block : str
        The entries, in any common indentation.

    Returns
    -------
    str
        The filled docstring.
    """
    header = re.search(r"^([ \t]*)Parameters[ \t]*$", doc, flags=re.MULTILINE)
    indent = header.group(1) if header else ""
    entries = textwrap.indent(textwrap.dedent(block).strip("\n"), indent) + "\n"
    filled = re.sub(
        rf"^[ \t]*{re.escape(placeholder)}[ \t]*$", lambda _: entries, doc, flags=re.MULTILINE
    )
    # the entries end with a blank line (sections that follow need one); never two, and none
    # before the closing quotes
    filled = re.sub(r"\n[ \t]*\n(?:[ \t]*\n)+", "\n\n", filled)
    return re.sub(r"\n[ \t]*\n([ \t]*)$", r"\n\1", filled)


def fill_docstrings(cls: type, fragments: dict[str, str]) -> type:
    """Fill the ``%(name)s`` placeholders of ``cls``'s docstring and of its own methods'.

    Each placeholder stands alone on a line and is replaced by ``fragments[name]`` with
    :func:`fill_parameters`, so one description serves every class and method that shares it.

    Parameters
    ----------
    cls : type
        The class; its own methods (``vars(cls)``) are filled, inherited ones are not.
    fragments : dict of str to str
        Placeholder name -> text (numpydoc entries, or a whole docstring).

    Returns
    -------
    type
        ``cls``, filled in place.
    """
    members = [getattr(member, "__func__", member) for member in vars(cls).values()]
    for target in [cls, *(m for m in members if callable(m) and hasattr(m, "__code__"))]:
        doc = target.__doc__
        if not doc or "%(" not in doc:
            continue
        for name, text in fragments.items():
            doc = fill_parameters(doc, f"%({name})s", text)
        target.__doc__ = doc
    return cls
