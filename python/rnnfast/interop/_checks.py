"""Checks the exporters share."""

from __future__ import annotations

from rnnfast import nn


def refuse_reduced_precision(stack: nn.RecurrentStack, exporter: str) -> None:
    """The exports rebuild the float computation: a reduced-precision serving copy
    (``freeze(precision="int8")``) would silently change outputs, so it is refused."""
    if stack.precision != "float":
        raise ValueError(
            f"{exporter} exports float weights, and this recurrent module serves in "
            f"{stack.precision}: export the float32 module or estimator it was frozen from "
            "(freeze(precision=...) makes a serving copy of it)"
        )
