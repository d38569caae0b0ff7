"""Pooling a sequence of top-layer outputs into one vector per sequence: the mean or the
maximum over valid steps, or attention with a learned query (forward and backward side by side).

The fourth choice, the final state (``"last"``), reads the recurrent stack's final state
rather than its outputs, so :class:`~rnnfast.nn.SequenceNetwork` handles it itself.
"""

from __future__ import annotations

import numpy as np

from rnnfast._saving import SaveMixin
from rnnfast._validation import check_dtype, check_loaded_parameters, check_positive_int
from rnnfast.nn.attention import Attention
from rnnfast.persistence import persistable

POOLING_KINDS = ("last", "mean", "max", "attention")


@persistable(reset={"grads": None, "_cache": None})
class SequencePooling(SaveMixin):
    """Pool ``(batch, time, width)`` outputs over each sample's valid steps to ``(batch, width)``.

    Parameters
    ----------
    kind : {"mean", "max", "attention"}
        ``"attention"`` learns a query vector ``params["query"]`` of shape ``(width,)``;
        the pooled vector is ``softmax(outputs @ query) @ outputs`` over the valid steps. The
        query starts at zero, so training starts from mean pooling.
    width : int
        Features per step.
    dtype : numpy.float32 or numpy.float64, default float32
        Precision of the parameters and computations.
    """

    _saved_attributes = frozenset({"kind", "width", "dtype", "params", "grads", "_cache"})

    def __init__(self, kind: str, width: int, dtype: object = np.float32) -> None:
        if kind not in POOLING_KINDS[1:]:
            raise ValueError(f"kind must be one of {POOLING_KINDS[1:]}, got {kind!r}")
        self.kind = kind
        self.width = check_positive_int(width, "width")
        self.dtype = check_dtype(dtype)
        self.params = {"query": np.zeros(self.width, self.dtype)} if kind == "attention" else {}
        self.grads: dict[str, np.ndarray] | None = None
        self._cache: dict | None = None

    def forward(self, outputs: np.ndarray, lengths: np.ndarray, training: bool = True):
        """Pool each sample's first ``lengths[b]`` steps.

        Parameters
        ----------
        outputs : ndarray of shape (batch, time, width)
            Zero past each sample's length, as the recurrent stack gives them.
        lengths : ndarray of int, shape (batch,)
            Valid steps per sample.
        training : bool, default True
            Keep what :meth:`backward` needs.

        Returns
        -------
        ndarray of shape (batch, width)
            The pooled vectors.
        """
        valid = np.arange(outputs.shape[1])[None, :] < lengths[:, None]  # (batch, time)
        if self.kind == "mean":
            pooled = outputs.sum(axis=1) / lengths[:, None].astype(self.dtype)
            saved = {}
        elif self.kind == "max":
            masked = np.where(valid[:, :, None], outputs, -np.inf)
            where = masked.argmax(axis=1)  # (batch, width): the step each maximum came from
            pooled = np.take_along_axis(outputs, where[:, None, :], axis=1)[:, 0]
            saved = {"where": where}
        else:
            attend = _attention(self.width, self.dtype)
            query = np.broadcast_to(self.params["query"], (len(outputs), 1, self.width))
            context, _ = attend.forward(query, outputs, lengths, training=training)
            pooled = context[:, 0]
            saved = {"attend": attend}
        if training:
            self._cache = dict(shape=outputs.shape, lengths=lengths, **saved)
        return pooled.astype(self.dtype, copy=False)

    def backward(self, grad_pooled: np.ndarray) -> np.ndarray:
        """Backpropagate through the last training :meth:`forward`; sets :attr:`grads`.

        Parameters
        ----------
        grad_pooled : ndarray of shape (batch, width)
            Gradient of the loss w.r.t. the pooled vectors.

        Returns
        -------
        ndarray of shape (batch, time, width)
            Gradient w.r.t. ``outputs`` (zero past each length); for ``"attention"`` the
            query's gradient goes to :attr:`grads`.
        """
        if self._cache is None:
            raise RuntimeError("SequencePooling.backward() needs a forward(..., training=True)")
        cache = self._cache
        batch, time, width = cache["shape"]
        lengths = cache["lengths"]
        if self.kind == "mean":
            valid = np.arange(time)[None, :] < lengths[:, None]
            share = grad_pooled / lengths[:, None].astype(self.dtype)
            grad = np.where(valid[:, :, None], share[:, None, :], 0).astype(self.dtype)
            self.grads = {}
        elif self.kind == "max":
            grad = np.zeros((batch, time, width), self.dtype)
            np.put_along_axis(grad, cache["where"][:, None, :], grad_pooled[:, None, :], axis=1)
            self.grads = {}
        else:
            grad_query, grad = cache["attend"].backward(grad_pooled[:, None, :])
            self.grads = {"query": grad_query.sum(axis=(0, 1)).astype(self.dtype)}
        return grad

    def _check_loaded_state(self) -> None:
        """Called by :func:`rnnfast.load`: kind, width and the query agree."""
        if self.kind not in POOLING_KINDS[1:]:
            raise ValueError(f"SequencePooling.kind must be one of {POOLING_KINDS[1:]}")
        check_positive_int(self.width, "SequencePooling.width")
        if check_dtype(self.dtype) != self.dtype:
            raise TypeError(f"SequencePooling.dtype must be a numpy dtype, got {self.dtype!r}")
        shapes = {"query": (self.width,)} if self.kind == "attention" else {}
        check_loaded_parameters(self.params, shapes, self.dtype, "SequencePooling")


def _attention(width: int, dtype: np.dtype) -> Attention:
    """The parameter-free dot-product attention of the learned query over the outputs."""
    return Attention(width, width, kind="dot", dtype=dtype)
