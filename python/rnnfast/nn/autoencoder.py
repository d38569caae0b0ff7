"""Sequence autoencoder: encode a sequence into one vector, decode the sequence back from it.

The encoder's top final state is the code; the decoder reads the code at every step (the
"repeat vector" LSTM autoencoder of Malhotra et al., 2016) and a linear head reconstructs each
step. What the code cannot hold — the unusual — reconstructs badly, which is what anomaly
scoring by reconstruction error relies on.
"""

from __future__ import annotations

import numpy as np

from rnnfast._saving import SaveMixin
from rnnfast.nn._validation import check_dtype
from rnnfast.nn.init import as_generator
from rnnfast.nn.network import (
    SequenceNetwork,
    final_feature_grads,
    final_features,
    make_recurrent,
)


class SequenceAutoencoder(SaveMixin):
    """Recurrent encoder -> code -> recurrent decoder with a per-step linear head.

    Parameters are those of :class:`SequenceNetwork` without ``output_size`` and ``per_step``
    (the output reconstructs the input, one vector per step). ``params`` and ``grads`` are
    keyed ``"encoder.<torch name>"`` and ``"decoder.<SequenceNetwork key>"``.
    """

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
        self.params = {f"encoder.{k}": v for k, v in self.encoder.params.items()}
        self.params.update({f"decoder.{k}": v for k, v in self.decoder.params.items()})
        self.grads: dict[str, np.ndarray] | None = None

    @property
    def input_size(self) -> int:
        return self.encoder.input_size

    @property
    def output_size(self) -> int:
        return self.decoder.output_size

    def forward(self, x: np.ndarray, lengths: np.ndarray | None = None, training: bool = True):
        """Reconstruction of ``x``, shape ``(batch, time, input_size)``."""
        _, state = self.encoder.forward(x, lengths, None, training)
        code = final_features(self.encoder, state)
        repeated = np.ascontiguousarray(
            np.broadcast_to(code[:, None, :], (code.shape[0], x.shape[1], code.shape[1]))
        )
        return self.decoder.forward(repeated, lengths, training=training)

    __call__ = forward

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Backpropagate ``d loss / d reconstruction``; sets :attr:`grads`, returns ``d/dx``."""
        # the code feeds every decoder step, so its gradient sums over steps (zero on padding)
        grad_code = self.decoder.backward(grad_output).sum(axis=1)
        grad_x, _ = self.encoder.backward(*final_feature_grads(self.encoder, grad_code))
        self.grads = {f"encoder.{k}": v for k, v in self.encoder.grads.items()}
        self.grads.update({f"decoder.{k}": v for k, v in self.decoder.grads.items()})
        return grad_x
