"""Checks the exporters share."""

from __future__ import annotations

from rnnfast import nn


def refuse_reduced_precision(stack: nn.RecurrentStack, exporter: str, supported=()) -> None:
    """The exports rebuild the float computation unless the target runtime has the same kind
    of reduced precision (``supported``): exporting a reduced-precision serving copy
    (``freeze(precision="int8")``) as float would silently change outputs, so it is refused."""
    if stack.precision not in ("float", *supported):
        raise ValueError(
            f"{exporter} has no {stack.precision} equivalent of this {type(stack).__name__}, "
            f"which serves in {stack.precision}: export the float32 module or estimator it was "
            "frozen from (freeze(precision=...) makes a serving copy of it)"
        )
