"""Attention over a memory of steps: Luong's dot and general scores, Bahdanau's additive score,
a softmax over each sample's valid memory steps, and the backward of all three beside them."""

from __future__ import annotations

import numpy as np

from rnnfast._saving import SaveMixin
from rnnfast._validation import (
    as_float_array,
    check_dtype,
    check_lengths,
    check_loaded_parameters,
    check_positive_int,
)
from rnnfast.nn._parameters import StateDictMixin
from rnnfast.nn.init import as_generator, torch_default_uniform
from rnnfast.persistence import persistable

ATTENTION_KINDS = ("dot", "general", "additive")


@persistable(reset={"grads": None, "_cache": None})
class Attention(StateDictMixin, SaveMixin):
    """Each query step attends over the memory steps: ``context = softmax(scores) @ memory``.

    Scores of a query ``q`` (``query_size``) against a memory step ``k`` (``memory_size``):

    - ``"dot"`` (Luong): ``q . k``; needs ``query_size == memory_size``, no parameters.
    - ``"general"`` (Luong): ``q^T W k``, parameter ``weight`` ``(query_size, memory_size)``.
    - ``"additive"`` (Bahdanau): ``v . tanh(W_q q + W_k k)``, parameters ``query_weight``
      ``(attention_size, query_size)``, ``memory_weight`` ``(attention_size, memory_size)``
      and ``v`` ``(attention_size,)``.

    Parameters
    ----------
    query_size, memory_size : int
        Features of a query step and of a memory step.
    kind : {"dot", "general", "additive"}, default "general"
        The score, as above.
    attention_size : int or None, default None
        Width of the additive score's hidden layer (``memory_size`` when None); only for
        ``"additive"``.
    dtype : numpy.float32 or numpy.float64, default float32
        Precision of the parameters and computations.
    random_state : int, numpy.random.Generator or None
        Seeds ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))`` for each matrix (torch's ``Linear``
        default) and ``v``.

    Attributes
    ----------
    params, grads : dict of str to ndarray
        The parameters named above (empty for ``"dot"``); ``grads`` after :meth:`backward`.

    Examples
    --------
    >>> import numpy as np
    >>> from rnnfast.nn import Attention
    >>> attend = Attention(4, 6, kind="additive", random_state=0)
    >>> rng = np.random.default_rng(0)
    >>> query, memory = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 6))
    >>> context, weights = attend.forward(query, memory, memory_lengths=[5, 2])
    >>> context.shape, weights.shape, float(weights[1, :, 2:].max())
    ((2, 3, 6), (2, 3, 5), 0.0)
    """

    _saved_attributes = frozenset(
        {"query_size", "memory_size", "kind", "attention_size", "dtype", "params", "grads"}
    ) | {"_cache"}

    def __init__(
        self,
        query_size: int,
        memory_size: int,
        kind: str = "general",
        attention_size: int | None = None,
        dtype: object = np.float32,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.query_size = check_positive_int(query_size, "query_size")
        self.memory_size = check_positive_int(memory_size, "memory_size")
        if kind not in ATTENTION_KINDS:
            raise ValueError(f"kind must be one of {ATTENTION_KINDS}, got {kind!r}")
        if kind == "dot" and query_size != memory_size:
            raise ValueError(
                f"kind='dot' needs query_size == memory_size, got {query_size} and {memory_size}"
            )
        if attention_size is not None and kind != "additive":
            raise ValueError("attention_size applies only to kind='additive'")
        self.kind = kind
        self.attention_size = (
            check_positive_int(attention_size, "attention_size")
            if attention_size is not None
            else (self.memory_size if kind == "additive" else None)
        )
        self.dtype = check_dtype(dtype)
        layout = self._parameter_layout()
        # "dot" has no parameters: no generator (seeding one from the OS costs microseconds,
        # and attention pooling makes a dot attention per forward)
        rng = as_generator(random_state) if layout or random_state is not None else None
        self.params = {
            name: torch_default_uniform(rng, shape, fan_in, self.dtype)
            for name, (shape, fan_in) in layout.items()
        }
        self.grads: dict[str, np.ndarray] | None = None
        self._cache: dict | None = None

    def _parameter_layout(self) -> dict[str, tuple[tuple[int, ...], int]]:
        """Name -> (shape, fan_in of its initialisation)."""
        q, m, a = self.query_size, self.memory_size, self.attention_size
        if self.kind == "general":
            return {"weight": ((q, m), m)}
        if self.kind == "additive":
            return {"query_weight": ((a, q), q), "memory_weight": ((a, m), m), "v": ((a,), a)}
        return {}

    # ------------------------------------------------------------------------------ forward
    def forward(self, query, memory, memory_lengths=None, training: bool = True):
        """Attend from every query step over the valid memory steps.

        Parameters
        ----------
        query : array-like of shape (batch, Tq, query_size)
            The query steps (e.g. decoder states).
        memory : array-like of shape (batch, Tk, memory_size)
            The steps attended over (e.g. encoder outputs).
        memory_lengths : array-like of int of shape (batch,), optional
            Valid memory steps per sample, in ``[1, Tk]``; steps past them get weight exactly 0.
        training : bool, default True
            Keep what :meth:`backward` needs.

        Returns
        -------
        context : ndarray of shape (batch, Tq, memory_size)
            The weighted mean of the memory for each query step.
        weights : ndarray of shape (batch, Tq, Tk)
            The attention weights; each row sums to 1 over the sample's valid memory steps.
        """
        query = as_float_array(query, "query", self.dtype, (None, None, self.query_size))
        batch = query.shape[0]
        memory = as_float_array(memory, "memory", self.dtype, (batch, None, self.memory_size))
        if memory.shape[1] < 1:
            raise ValueError("memory must have at least one step (axis 1), got 0")
        lengths = check_lengths(memory_lengths, batch, memory.shape[1])
        scores, saved = self._scores(query, memory)
        weights = _masked_softmax(scores, lengths)
        context = weights @ memory
        if training:
            self._cache = dict(query=query, memory=memory, weights=weights, **saved)
            self.grads = None
        return context, weights

    __call__ = forward

    def _scores(self, query, memory):
        """``(batch, Tq, Tk)`` scores and what their backward needs."""
        if self.kind == "dot":
            return query @ memory.transpose(0, 2, 1), {}
        if self.kind == "general":
            projected = memory @ self.params["weight"].T  # (batch, Tk, query_size): W k
            return query @ projected.transpose(0, 2, 1), {"projected": projected}
        hidden = np.tanh(
            (query @ self.params["query_weight"].T)[:, :, None, :]
            + (memory @ self.params["memory_weight"].T)[:, None, :, :]
        )  # (batch, Tq, Tk, attention_size)
        return hidden @ self.params["v"], {"hidden": hidden}

    # ----------------------------------------------------------------------------- backward
    def backward(self, grad_context, grad_weights=None):
        """Backpropagate through the last training :meth:`forward`; sets :attr:`grads`.

        Parameters
        ----------
        grad_context : array-like of shape (batch, Tq, memory_size)
            Gradient of the loss w.r.t. ``context``.
        grad_weights : array-like of shape (batch, Tq, Tk), optional
            Gradient of the loss w.r.t. ``weights``, when the loss reads them too.

        Returns
        -------
        grad_query : ndarray of shape (batch, Tq, query_size)
            Gradient w.r.t. ``query``.
        grad_memory : ndarray of shape (batch, Tk, memory_size)
            Gradient w.r.t. ``memory``.

        Notes
        -----
        :attr:`grads` is an empty dict for ``"dot"``, which has no parameters.
        """
        if self._cache is None:
            raise RuntimeError("Attention.backward() needs a forward(..., training=True) first")
        cache = self._cache
        query, memory, weights = cache["query"], cache["memory"], cache["weights"]
        grad_context = as_float_array(
            grad_context, "grad_context", self.dtype, (*query.shape[:2], self.memory_size)
        )
        grad_memory = weights.transpose(0, 2, 1) @ grad_context
        grad_w = grad_context @ memory.transpose(0, 2, 1)
        if grad_weights is not None:
            grad_w = grad_w + as_float_array(
                grad_weights, "grad_weights", self.dtype, weights.shape
            )
        # softmax backward; masked steps have weight 0, so their score gradient is 0 too
        grad_scores = weights * (grad_w - (grad_w * weights).sum(axis=-1, keepdims=True))
        grad_query, memory_part, self.grads = self._scores_backward(grad_scores, cache)
        return grad_query, grad_memory + memory_part

    def _scores_backward(self, grad_scores, cache):
        """``(grad_query, grad_memory from the scores, parameter gradients)``."""
        query, memory = cache["query"], cache["memory"]
        if self.kind == "dot":
            return grad_scores @ memory, grad_scores.transpose(0, 2, 1) @ query, {}
        if self.kind == "general":
            projected = cache["projected"]
            grad_projected = grad_scores.transpose(0, 2, 1) @ query  # (batch, Tk, query_size)
            weight_grad = _summed_outer(grad_projected, memory)
            return (
                grad_scores @ projected,
                grad_projected @ self.params["weight"],
                {"weight": weight_grad},
            )
        hidden = cache["hidden"]
        v_grad = np.einsum("bqka,bqk->a", hidden, grad_scores)
        grad_pre = grad_scores[..., None] * self.params["v"] * (1 - hidden * hidden)
        grad_query_side = grad_pre.sum(axis=2)  # (batch, Tq, attention_size)
        grad_memory_side = grad_pre.sum(axis=1)  # (batch, Tk, attention_size)
        grads = {
            "query_weight": _summed_outer(grad_query_side, query),
            "memory_weight": _summed_outer(grad_memory_side, memory),
            "v": v_grad,
        }
        return (
            grad_query_side @ self.params["query_weight"],
            grad_memory_side @ self.params["memory_weight"],
            grads,
        )

    def _forget_forward(self) -> None:
        self._cache = None

    def _check_loaded_state(self) -> None:
        """Called by :func:`rnnfast.load`: kind, sizes and parameters agree."""
        check_positive_int(self.query_size, "Attention.query_size")
        check_positive_int(self.memory_size, "Attention.memory_size")
        if self.kind not in ATTENTION_KINDS:
            raise ValueError(f"Attention.kind must be one of {ATTENTION_KINDS}")
        if self.kind == "dot" and self.query_size != self.memory_size:
            raise ValueError("Attention of kind 'dot' needs query_size == memory_size")
        if (self.kind == "additive") != (self.attention_size is not None):
            raise ValueError("Attention.attention_size is set exactly for kind 'additive'")
        if self.attention_size is not None:
            check_positive_int(self.attention_size, "Attention.attention_size")
        if check_dtype(self.dtype) != self.dtype:
            raise TypeError(f"Attention.dtype must be a numpy dtype, got {self.dtype!r}")
        shapes = {name: shape for name, (shape, _) in self._parameter_layout().items()}
        check_loaded_parameters(self.params, shapes, self.dtype, "Attention")

    def __repr__(self) -> str:
        extra = f", attention_size={self.attention_size}" if self.kind == "additive" else ""
        return (
            f"Attention({self.query_size}, {self.memory_size}, kind={self.kind!r}{extra}, "
            f"dtype={self.dtype.name})"
        )


def _masked_softmax(scores: np.ndarray, lengths: np.ndarray | None) -> np.ndarray:
    """Softmax over the last axis, over each sample's first ``lengths[b]`` steps only (the
    rest get exactly 0); all steps when ``lengths`` is None."""
    if lengths is not None:
        valid = np.arange(scores.shape[-1]) < lengths[:, None]  # (batch, Tk)
        scores = np.where(valid[:, None, :], scores, -np.inf)
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _summed_outer(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """``sum over (batch, step) of outer(left, right)``: one GEMM over the flattened rows
    (``einsum("bta,btb->ab")`` without its slow generic loop)."""
    return left.reshape(-1, left.shape[-1]).T @ right.reshape(-1, right.shape[-1])
