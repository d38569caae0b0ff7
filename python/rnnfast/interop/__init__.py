"""Moving models out of rnnfast: to and from PyTorch modules, and to ONNX (``rnnfast.onnx``)."""

from rnnfast.interop.torch import from_torch, to_torch

__all__ = ["from_torch", "to_torch"]
