"""The network layer: recurrent stacks, embeddings, attention, a linear head, losses and
initialisers, with explicit forward/backward over numpy arrays."""

from rnnfast.nn.attention import ATTENTION_KINDS, Attention
from rnnfast.nn.autoencoder import SequenceAutoencoder
from rnnfast.nn.dense import Linear
from rnnfast.nn.embedding import Embedding
from rnnfast.nn.network import CELL_TYPES, SequenceNetwork, make_recurrent
from rnnfast.nn.pooling import POOLING_KINDS, SequencePooling
from rnnfast.nn.recurrent import GRU, LSTM, RNN, NoForwardCacheError, RecurrentStack
from rnnfast.nn.seq2seq import EncoderDecoder
from rnnfast.nn.stream import RecurrentStream

__all__ = [
    "ATTENTION_KINDS",
    "CELL_TYPES",
    "GRU",
    "LSTM",
    "POOLING_KINDS",
    "RNN",
    "Attention",
    "Embedding",
    "EncoderDecoder",
    "Linear",
    "NoForwardCacheError",
    "RecurrentStack",
    "RecurrentStream",
    "SequenceAutoencoder",
    "SequenceNetwork",
    "SequencePooling",
    "make_recurrent",
]
