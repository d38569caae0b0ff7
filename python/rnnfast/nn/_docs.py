"""Docstrings the ``nn`` modules share: a method whose docstring is ``%(max_batch)s`` (and so
on) gets its text from :func:`documented`, one text for every module that has the method."""

from __future__ import annotations

from rnnfast._docstrings import fill_docstrings

MODULE_DOCS = {
    "random_generators": """\
Return the generators a training forward draws from (dropout masks).

Returns
-------
tuple of numpy.random.Generator
    What to save and restore to rewind the random streams (as an interrupted fit does).""",
    "max_batch": """\
Return the most sequences of ``time`` steps one forward (and its backward) can take.

The C++ core indexes ``time * batch * width`` with 32-bit integers.

Parameters
----------
time : int
    Steps per sequence.

Returns
-------
int
    The largest batch; 0 when not even one fits (split the batch or the time axis).""",
}


def documented(cls: type, **fragments: str) -> type:
    """Fill ``cls``'s :data:`MODULE_DOCS` placeholders (and ``fragments``).

    Parameters
    ----------
    cls : type
        An ``nn`` module class.
    **fragments : str
        More placeholder texts, by name.

    Returns
    -------
    type
        ``cls``, filled in place.
    """
    return fill_docstrings(cls, {**MODULE_DOCS, **fragments})
