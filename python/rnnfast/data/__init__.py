"""Sequence data handling: validation and padding, length bucketing, windowing, scaling, text."""

from rnnfast.data.scaler import SequenceScaler
from rnnfast.data.sequences import Sequences, check_sequences
from rnnfast.data.text import TextSequencer
from rnnfast.data.windows import sliding_windows

__all__ = ["SequenceScaler", "Sequences", "TextSequencer", "check_sequences", "sliding_windows"]
