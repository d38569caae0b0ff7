"""Compute backends behind :mod:`rnnfast.nn`: ``cpu`` (the C++ extension)."""
