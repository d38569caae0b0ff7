"""The network layer: recurrent stacks with explicit forward/backward over numpy arrays."""

from rnnfast.nn.recurrent import GRU, LSTM, RNN, NoForwardCacheError, RecurrentStack

__all__ = ["GRU", "LSTM", "RNN", "NoForwardCacheError", "RecurrentStack"]
