"""ONNX export under its short name: the code is :mod:`rnnfast.interop.onnx`, beside the
PyTorch converters (``from rnnfast.onnx import export`` and
``from rnnfast.interop.onnx import export`` are the same function)."""

from rnnfast.interop.onnx import DEFAULT_OPSET, export

__all__ = ["DEFAULT_OPSET", "export"]
