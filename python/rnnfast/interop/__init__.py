"""Moving models out of rnnfast: to and from PyTorch modules (:mod:`rnnfast.interop.torch`) and
to ONNX (:mod:`rnnfast.interop.onnx`, also importable as ``rnnfast.onnx``)."""

from rnnfast.interop.torch import from_torch, to_torch

__all__ = ["from_torch", "to_torch"]
