"""Token embeddings: a lookup table with a scatter-add backward, ``torch.nn.Embedding``'s layout."""

from __future__ import annotations

import numbers

import numpy as np

from rnnfast._saving import SaveMixin
from rnnfast._validation import check_dtype, check_loaded_parameters, check_positive_int
from rnnfast.nn._parameters import StateDictMixin
from rnnfast.nn.init import as_generator
from rnnfast.persistence import persistable


@persistable(reset={"grads": None, "_tokens": None})
class Embedding(StateDictMixin, SaveMixin):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``, looked up by token id.

    Parameters
    ----------
    num_embeddings : int
        Size of the vocabulary: ids lie in ``[0, num_embeddings)``.
    embedding_dim : int
        Size of each vector.
    padding_idx : int or None, default None
        An id whose row is zero and never receives a gradient (negative counts from the end,
        as in torch). Typically 0, the padding id of :class:`rnnfast.TextSequencer`.
    dtype : numpy.float32 or numpy.float64, default float32
        Precision of the parameters and computations.
    random_state : int, numpy.random.Generator or None
        Seeds the ``N(0, 1)`` initialisation (torch's).

    Attributes
    ----------
    params : dict with ``"weight"`` of shape ``(num_embeddings, embedding_dim)``
        torch's ``state_dict`` layout.
    grads : dict like ``params``, or None before the first :meth:`backward`

    Examples
    --------
    >>> import numpy as np
    >>> from rnnfast.nn import Embedding
    >>> embed = Embedding(10, 4, padding_idx=0, random_state=0)
    >>> vectors = embed.forward(np.array([[3, 1, 0]]))
    >>> vectors.shape, bool((vectors[0, 2] == 0).all())
    ((1, 3, 4), True)
    """

    _saved_attributes = frozenset(
        {"num_embeddings", "embedding_dim", "padding_idx", "dtype", "params", "grads", "_tokens"}
    )

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        padding_idx: int | None = None,
        dtype: object = np.float32,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.num_embeddings = check_positive_int(num_embeddings, "num_embeddings")
        self.embedding_dim = check_positive_int(embedding_dim, "embedding_dim")
        self.padding_idx = _check_padding_idx(padding_idx, self.num_embeddings)
        self.dtype = check_dtype(dtype)
        rng = as_generator(random_state)
        weight = rng.standard_normal((self.num_embeddings, self.embedding_dim)).astype(self.dtype)
        if self.padding_idx is not None:
            weight[self.padding_idx] = 0
        self.params = {"weight": weight}
        self.grads: dict[str, np.ndarray] | None = None
        self._tokens: np.ndarray | None = None

    def forward(self, tokens: np.ndarray, training: bool = True) -> np.ndarray:
        """The vectors of ``tokens``.

        Parameters
        ----------
        tokens : array-like of int, shape (batch, time) (any shape)
            Ids in ``[0, num_embeddings)``.
        training : bool, default True
            Keep ``tokens`` for :meth:`backward` (an inference forward leaves the last
            training forward's tokens alone).

        Returns
        -------
        ndarray of shape tokens.shape + (embedding_dim,)
            The vector of each id.
        """
        tokens = check_token_ids(tokens, self.num_embeddings, "tokens")
        if training:
            self._tokens = tokens
        return self.params["weight"][tokens]

    __call__ = forward

    def backward(self, grad_output: np.ndarray) -> None:
        """Backpropagate into the table: set ``grads["weight"]``.

        Each row sums the gradients of the steps that read it (the padding row gets none).
        Token ids have no gradient, so nothing is returned.

        Parameters
        ----------
        grad_output : ndarray of shape tokens.shape + (embedding_dim,)
            Gradient of the loss w.r.t. the last training forward's output.
        """
        if self._tokens is None:
            raise RuntimeError("Embedding.backward() needs a forward(..., training=True) first")
        expected = (*self._tokens.shape, self.embedding_dim)
        grad = np.asarray(grad_output, dtype=self.dtype)
        if grad.shape != expected:
            raise ValueError(f"grad_output must have shape {expected}, got {grad.shape}")
        weight_grad = np.zeros_like(self.params["weight"])
        np.add.at(weight_grad, self._tokens.reshape(-1), grad.reshape(-1, self.embedding_dim))
        if self.padding_idx is not None:
            weight_grad[self.padding_idx] = 0
        self.grads = {"weight": weight_grad}

    def _forget_forward(self) -> None:
        self._tokens = None

    def _check_loaded_state(self) -> None:
        """Called by :func:`rnnfast.load`: sizes, padding id and the table agree."""
        check_positive_int(self.num_embeddings, "Embedding.num_embeddings")
        check_positive_int(self.embedding_dim, "Embedding.embedding_dim")
        if _check_padding_idx(self.padding_idx, self.num_embeddings) != self.padding_idx:
            raise ValueError("Embedding.padding_idx must be stored non-negative")
        if check_dtype(self.dtype) != self.dtype:
            raise TypeError(f"Embedding.dtype must be a numpy dtype, got {self.dtype!r}")
        shapes = {"weight": (self.num_embeddings, self.embedding_dim)}
        check_loaded_parameters(self.params, shapes, self.dtype, "Embedding")

    def __repr__(self) -> str:
        return (
            f"Embedding({self.num_embeddings}, {self.embedding_dim}, "
            f"padding_idx={self.padding_idx}, dtype={self.dtype.name})"
        )


def check_token_ids(tokens: object, vocabulary_size: int, name: str) -> np.ndarray:
    """``tokens`` as an int64 array of ids in ``[0, vocabulary_size)``; TypeError for
    non-integer input (floats, bools, strings), ValueError for ids out of range."""
    array = np.asarray(tokens)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an array of integer token ids, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= vocabulary_size):
        raise ValueError(
            f"{name} must lie in [0, {vocabulary_size}) (the vocabulary), got values in "
            f"[{array.min()}, {array.max()}]"
        )
    return array.astype(np.int64, copy=False)


def _check_padding_idx(padding_idx: object, num_embeddings: int) -> int | None:
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, numbers.Integral):
        raise TypeError(f"padding_idx must be an int or None, got {padding_idx!r}")
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(
            f"padding_idx must lie in [-{num_embeddings}, {num_embeddings}), got {padding_idx}"
        )
    return int(padding_idx) % num_embeddings
