"""Sequence autoencoder: encode a sequence into one vector, decode the sequence back from it.

The encoder's top final state is the code; the decoder reads the code at every step (the
"repeat vector" LSTM autoencoder of Malhotra et al., 2016) and a linear head reconstructs each
step. What the code cannot hold — the unusual — reconstructs badly, which is what anomaly
scoring by reconstruction error relies on.
"""

from __future__ import annotations

import numpy as np

from rnnfast._saving import SaveMixin
from rnnfast._validation import check_dtype
from rnnfast.nn._docs import documented
from rnnfast.nn.init import as_generator
from rnnfast.nn.network import (
    SequenceNetwork,
    check_joined_params,
    final_feature_grads,
    final_features,
    joined_params,
    make_recurrent,
)
from rnnfast.nn.recurrent import RecurrentStack
from rnnfast.persistence import persistable


@persistable(reset={"grads": None})
@documented
class SequenceAutoencoder(SaveMixin):
    """Recurrent encoder -> code -> recurrent decoder with a per-step linear head.

    The output reconstructs the input, one vector per step. ``params`` and ``grads`` are keyed
    ``"encoder.<torch name>"`` and ``"decoder.<SequenceNetwork key>"``.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn", "rnn_relu"}
        The recurrent cell of both halves.
    input_size, hidden_size : int
        Features per step, and hidden units per layer and direction (the code has
        ``num_directions * hidden_size`` features).
    num_layers : int, default 1
        Stacked layers in each half.
    bidirectional : bool, default False
        A bidirectional encoder.
    dropout : float, default 0
        Dropout between layers and before the head (training forwards only).
    init : {"orthogonal", "xavier", "torch"}, default "orthogonal"
        Recurrent weight initialisation.
    forget_bias : float or None, default 1.0
        LSTM forget-gate bias.
    dtype : numpy.float32 or numpy.float64, default float32
        Precision of the parameters and computations.
    random_state : int, numpy.random.Generator or None
        Seeds the weights and the dropout masks.
    """

    _saved_attributes = frozenset({"encoder", "decoder", "dtype", "params", "grads"})

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        init: str = "orthogonal",
        forget_bias: float | None = 1.0,
        dtype: object = np.float32,
        random_state=None,
    ) -> None:
        self.dtype = check_dtype(dtype)
        rng = as_generator(random_state)
        # encoder and decoder share the architecture and draw from one random stream
        shared = dict(
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            init=init,
            forget_bias=forget_bias,
            dtype=self.dtype,
            random_state=rng,
        )
        self.encoder = make_recurrent(cell, input_size, hidden_size, **shared)
        code_size = self.encoder.num_directions * hidden_size
        self.decoder = SequenceNetwork(
            cell, code_size, hidden_size, input_size, per_step=True, **shared
        )
        self.params = joined_params({"encoder": self.encoder, "decoder": self.decoder})
        self.grads: dict[str, np.ndarray] | None = None

    @property
    def input_size(self) -> int:
        """Features per input step."""
        return self.encoder.input_size

    @property
    def output_size(self) -> int:
        """Features per reconstructed step (the input size)."""
        return self.decoder.output_size

    def random_generators(self) -> tuple[np.random.Generator, ...]:
        """%(random_generators)s"""
        return (*self.encoder.random_generators(), *self.decoder.random_generators())

    def max_batch(self, time: int) -> int:
        """%(max_batch)s"""
        return min(self.encoder.max_batch(time), self.decoder.max_batch(time))

    def _check_loaded_state(self) -> None:
        """Called by :func:`rnnfast.load`: the decoder reads the code the encoder gives and
        reconstructs the encoder's input width."""
        if not isinstance(self.encoder, RecurrentStack) or not isinstance(
            self.decoder, SequenceNetwork
        ):
            raise TypeError("SequenceAutoencoder needs a recurrent encoder and a SequenceNetwork")
        code_size = self.encoder.num_directions * self.encoder.hidden_size
        if self.decoder.input_size != code_size or self.decoder.output_size != self.input_size:
            raise ValueError("SequenceAutoencoder's decoder does not fit its encoder")
        if not self.decoder.per_step or not self.dtype == self.encoder.dtype == self.decoder.dtype:
            raise ValueError("SequenceAutoencoder's decoder is not per-step, or dtypes differ")
        check_joined_params(self.params, {"encoder": self.encoder, "decoder": self.decoder})

    def forward(self, x: np.ndarray, lengths: np.ndarray | None = None, training: bool = True):
        """Reconstruct ``x`` from its code.

        Parameters
        ----------
        x : ndarray of shape (batch, time, input_size)
            The sequences.
        lengths : ndarray of int, shape (batch,), optional
            Valid steps per sample; None: every sample fills the time axis.
        training : bool, default True
            Keep what :meth:`backward` needs and apply dropout.

        Returns
        -------
        ndarray of shape (batch, time, input_size)
            The reconstruction.
        """
        _, state = self.encoder.forward(x, lengths, None, training)
        code = final_features(self.encoder, state)
        repeated = np.ascontiguousarray(
            np.broadcast_to(code[:, None, :], (code.shape[0], x.shape[1], code.shape[1]))
        )
        return self.decoder.forward(repeated, lengths, training=training)

    __call__ = forward

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Backpropagate through the last training :meth:`forward`; sets :attr:`grads`.

        Parameters
        ----------
        grad_output : ndarray of shape (batch, time, input_size)
            Gradient of the loss w.r.t. the reconstruction.

        Returns
        -------
        ndarray of shape (batch, time, input_size)
            Gradient w.r.t. ``x``.
        """
        # the code feeds every decoder step, so its gradient sums over steps (zero on padding)
        grad_code = self.decoder.backward(grad_output).sum(axis=1)
        grad_x, _ = self.encoder.backward(*final_feature_grads(self.encoder, grad_code))
        self.grads = joined_params({"encoder": self.encoder, "decoder": self.decoder}, "grads")
        return grad_x
