"""A recurrent stack followed by dropout and a linear head: the estimators' network.

One output per sequence (``per_step=False``: the top layer's final hidden state, forward and
reverse directions side by side, or its outputs pooled over the valid steps, goes through the
head) or one output per time step (``per_step=True``: the head reads every step of the top
layer's output). With ``num_embeddings`` the input is token ids, embedded under the stack.
"""

from __future__ import annotations

import copy

import numpy as np

from rnnfast._saving import SaveMixin
from rnnfast._validation import (
    check_bool,
    check_dtype,
    check_generator,
    check_positive_int,
    check_probability,
)
from rnnfast.nn._docs import documented
from rnnfast.nn._parameters import parameter_snapshot
from rnnfast.nn.dense import Linear
from rnnfast.nn.dropout import dropout_mask
from rnnfast.nn.embedding import Embedding
from rnnfast.nn.init import as_generator, initialize_recurrent
from rnnfast.nn.pooling import POOLING_KINDS, SequencePooling
from rnnfast.nn.recurrent import GRU, LSTM, RNN, RecurrentStack
from rnnfast.persistence import persistable

CELL_TYPES = ("lstm", "gru", "rnn", "rnn_relu")


def make_recurrent(
    cell: str,
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    init: str = "torch",
    forget_bias: float | None = None,
    dtype: object = np.float32,
    random_state=None,
) -> RecurrentStack:
    """Build the recurrent stack named by ``cell``, initialised by ``init`` and ``forget_bias``.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn", "rnn_relu"}
        The cell (``"rnn"``: tanh).
    input_size, hidden_size : int
        Features per input step and hidden units per layer and direction.
    num_layers : int, default 1
        Stacked layers.
    bidirectional : bool, default False
        Also run each layer in reverse.
    dropout : float, default 0
        Dropout between layers (training forwards only).
    init : {"orthogonal", "xavier", "torch"}, default "torch"
        Weight initialisation, see :func:`rnnfast.nn.init.initialize_recurrent`.
    forget_bias : float or None, default None
        LSTM forget-gate bias (None: as ``init`` leaves it).
    dtype : numpy.float32 or numpy.float64, default float32
        Precision of the parameters and computations.
    random_state : int, numpy.random.Generator or None
        Seeds the weights and the dropout masks.

    Returns
    -------
    RecurrentStack
        An :class:`RNN`, :class:`LSTM` or :class:`GRU`.
    """
    rng = as_generator(random_state)
    kwargs = dict(
        num_layers=num_layers,
        bidirectional=bidirectional,
        dtype=dtype,
        random_state=rng,
        dropout=dropout,
    )
    if cell == "lstm":
        stack = LSTM(input_size, hidden_size, **kwargs)
    elif cell == "gru":
        stack = GRU(input_size, hidden_size, **kwargs)
    elif cell in ("rnn", "rnn_relu"):
        nonlinearity = "relu" if cell == "rnn_relu" else "tanh"
        stack = RNN(input_size, hidden_size, nonlinearity=nonlinearity, **kwargs)
    else:
        raise ValueError(f"cell must be one of {CELL_TYPES}, got {cell!r}")
    initialize_recurrent(stack, init, forget_bias, rng)
    return stack


@persistable(reset={"grads": None, "_mask": None})
@documented
class SequenceNetwork(SaveMixin):
    """Recurrent stack -> dropout -> :class:`~rnnfast.nn.Linear` head.

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn", "rnn_relu"}
        The recurrent cell (``"rnn"``: tanh).
    input_size, hidden_size, output_size : int
        Features per input step, hidden units per layer and direction, and outputs.
    num_layers : int, default 1
        Stacked recurrent layers.
    bidirectional : bool, default False
        Also run each layer in reverse.
    dropout : float, default 0
        Dropout rate between recurrent layers and before the head (training forwards only).
    per_step : bool, default False
        One output per time step instead of one per sequence.
    init : {"orthogonal", "xavier", "torch"}, default "orthogonal"
        Recurrent weight initialisation, see :func:`rnnfast.nn.init.initialize_recurrent`.
    forget_bias : float or None, default 1.0
        LSTM forget-gate bias.
    dtype : numpy.float32 or numpy.float64, default float32
        Precision of the parameters and computations.
    random_state : int, numpy.random.Generator or None
        Seeds the weights and the dropout masks.
    num_embeddings : int or None, default None
        Token input: ``x`` holds ids in ``[0, num_embeddings)`` (``(batch, time)``, or
        ``(batch, time, 1)``), which an :class:`~rnnfast.nn.Embedding` of ``input_size``
        features with padding id 0 turns into the stack's input.
    pooling : {"last", "mean", "max", "attention"}, default "last"
        What the head reads of a sequence (``per_step=False`` only): the top layer's final
        state, or its outputs pooled over the valid steps (see
        :class:`~rnnfast.nn.pooling.SequencePooling`).

    Attributes
    ----------
    recurrent : RecurrentStack
    head : Linear
    embedding : Embedding or None
    pool : SequencePooling or None
        The pooling module (None for ``"last"``).
    params, grads : dict of str to ndarray
        Every parameter (``"recurrent.<torch name>"``, ``"head.weight"``, ``"head.bias"``,
        ``"embedding.weight"``, ``"pool.query"``), the same array objects as the submodules',
        so an optimizer stepping ``params`` trains them all.
    """

    _saved_attributes = frozenset(
        {"recurrent", "head", "dtype", "dropout", "per_step", "params", "grads", "_rng", "_mask"}
        | {"embedding", "pooling", "pool"}
    )
    # what files written before token input and pooling existed mean
    embedding = None
    pooling = "last"
    pool = None

    def __init__(
        self,
        cell: str,
        input_size: int,
        hidden_size: int,
        output_size: int,
        *,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        per_step: bool = False,
        init: str = "orthogonal",
        forget_bias: float | None = 1.0,
        dtype: object = np.float32,
        random_state=None,
        num_embeddings: int | None = None,
        pooling: str = "last",
    ) -> None:
        self.dtype = check_dtype(dtype)
        self.dropout = check_probability(dropout, "dropout")
        self.per_step = bool(per_step)
        if pooling not in POOLING_KINDS:
            raise ValueError(f"pooling must be one of {POOLING_KINDS}, got {pooling!r}")
        if self.per_step and pooling != "last":
            raise ValueError("pooling applies to one output per sequence (per_step=False)")
        self._rng = as_generator(random_state)
        self.recurrent = make_recurrent(
            cell,
            input_size,
            hidden_size,
            num_layers=num_layers,
            bidirectional=bidirectional,
            dropout=dropout,
            init=init,
            forget_bias=forget_bias,
            dtype=self.dtype,
            random_state=self._rng,
        )
        width = self.recurrent.num_directions * self.recurrent.hidden_size
        self.head = Linear(
            width, check_positive_int(output_size, "output_size"), self.dtype, self._rng
        )
        # drawn after the stack and head, so networks without them keep their initialisation
        if num_embeddings is not None:
            self.embedding = Embedding(
                num_embeddings, input_size, padding_idx=0, dtype=self.dtype, random_state=self._rng
            )
        self.pooling = pooling
        if pooling != "last":
            self.pool = SequencePooling(pooling, width, self.dtype)
        self.params = joined_params(self._parts())
        self.grads: dict[str, np.ndarray] | None = None
        self._mask: np.ndarray | None = None

    def _parts(self) -> dict:
        """The submodules holding parameters, by the prefix of their keys in ``params``."""
        parts = {"recurrent": self.recurrent, "head": self.head}
        if self.embedding is not None:
            parts["embedding"] = self.embedding
        if self.pool is not None:
            parts["pool"] = self.pool
        return parts

    @property
    def input_size(self) -> int:
        """Features per input step (the embedding size for token input)."""
        return self.recurrent.input_size

    def random_generators(self) -> tuple[np.random.Generator, ...]:
        """%(random_generators)s"""
        return (self._rng, *self.recurrent.random_generators())

    def max_batch(self, time: int) -> int:
        """%(max_batch)s"""
        return self.recurrent.max_batch(time)

    def _check_loaded_state(self) -> None:
        """Called by :func:`rnnfast.load` (after the submodules' own checks): the head reads
        what the stack gives, and ``params`` holds exactly the submodules' arrays."""
        if not isinstance(self.recurrent, RecurrentStack) or not isinstance(self.head, Linear):
            raise TypeError("SequenceNetwork needs a recurrent stack and a Linear head")
        width = self.recurrent.num_directions * self.recurrent.hidden_size
        if self.head.in_features != width:
            raise ValueError(
                f"SequenceNetwork head reads {self.head.in_features} features but the stack "
                f"gives {width}"
            )
        if not self.dtype == self.recurrent.dtype == self.head.dtype:
            raise ValueError("SequenceNetwork and its submodules differ in dtype")
        check_probability(self.dropout, "SequenceNetwork.dropout")
        check_bool(self.per_step, "SequenceNetwork.per_step")
        check_generator(self._rng, "SequenceNetwork._rng")
        if self.embedding is not None and (
            not isinstance(self.embedding, Embedding)
            or self.embedding.embedding_dim != self.recurrent.input_size
            or self.embedding.padding_idx != 0
            or self.embedding.dtype != self.dtype
        ):
            raise ValueError("SequenceNetwork's embedding does not feed its recurrent stack")
        if self.pooling not in POOLING_KINDS or (self.per_step and self.pooling != "last"):
            raise ValueError(f"SequenceNetwork.pooling must be one of {POOLING_KINDS}")
        if (self.pool is None) != (self.pooling == "last") or (
            self.pool is not None
            and (
                not isinstance(self.pool, SequencePooling)
                or self.pool.kind != self.pooling
                or self.pool.width != width
            )
        ):
            raise ValueError("SequenceNetwork's pooling module does not match its pooling")
        check_joined_params(self.params, self._parts())

    @property
    def output_size(self) -> int:
        """Outputs of the head."""
        return self.head.out_features

    def freeze(self, precision: str = "float") -> SequenceNetwork:
        """An inference-only copy of this network whose recurrent weights are packed once.

        The recurrent stack is frozen as :meth:`RecurrentStack.freeze` does (its weights packed
        for the kernels once, instead of on every call: a fixed cost of every small-batch
        call); the embedding, pooling and head hold read-only copies of their weights.

        Parameters
        ----------
        precision : {"float", "bfloat16", "int8"}, default "float"
            How the recurrent stack's packs store its weights (:meth:`RecurrentStack.freeze`);
            the embedding, pooling and head stay float32.

        Returns
        -------
        SequenceNetwork
            ``forward(x, lengths, training=False)`` returns exactly what this network's would,
            bit for bit (at ``precision="float"``). A training forward raises ValueError, the
            weights reject in-place writes, and later changes to this network do not reach
            the copy: freeze again after training. :func:`rnnfast.save` writes it as an
            ordinary network, with the recurrent stack's reduced precision if it has one.
        """
        frozen = copy.copy(self)
        frozen.recurrent = self.recurrent.freeze(precision)
        frozen.head = parameter_snapshot(self.head)
        if self.embedding is not None:
            frozen.embedding = parameter_snapshot(self.embedding)
        if self.pool is not None:
            frozen.pool = parameter_snapshot(self.pool)
        frozen.params = joined_params(frozen._parts())
        frozen.grads = None
        frozen._mask = None
        frozen._rng = copy.deepcopy(self._rng)
        return frozen

    @property
    def frozen(self) -> bool:
        """Whether this network is a :meth:`freeze` copy (inference only)."""
        return self.recurrent.frozen

    def forward(
        self,
        x: np.ndarray,
        lengths: np.ndarray | None = None,
        hx=None,
        training: bool = True,
        return_state: bool = False,
    ):
        """Run the network on a batch.

        Parameters
        ----------
        x : ndarray of shape (batch, time, input_size), or int ids (batch, time)
            The input; ids with ``num_embeddings``.
        lengths : ndarray of int, shape (batch,), optional
            Valid steps per sample; None: every sample fills the time axis.
        hx : ndarray or tuple, optional
            Initial state of the recurrent stack (see :meth:`RecurrentStack.forward`).
        training : bool, default True
            Keep what :meth:`backward` needs and apply dropout.
        return_state : bool, default False
            Also return the final state, e.g. to carry it across calls in generation.

        Returns
        -------
        outputs : ndarray of shape (batch, output_size), or (batch, time, output_size) per step
            The head's outputs.
        h_n : ndarray or tuple
            The final state; only with ``return_state``.
        """
        if training and self.frozen:
            raise ValueError(
                "this network is frozen (freeze()): it runs inference only, forward(x, "
                "training=False); train the network it was frozen from"
            )
        if self.embedding is not None:
            x = self.embedding.forward(_token_ids(x), training)
        output, state = self.recurrent.forward(x, lengths, hx, training)
        if self.per_step:
            features = output
        elif self.pool is None:
            features = final_features(self.recurrent, state)
        else:
            batch, time = output.shape[:2]
            valid = np.full(batch, time) if lengths is None else np.asarray(lengths, np.int64)
            features = self.pool.forward(output, valid, training)
        if training:  # inference leaves the last training forward's mask for its backward
            self._mask = None
            if self.dropout > 0:
                self._mask = dropout_mask(self._rng, features.shape, self.dropout, self.dtype)
                features = features * self._mask
        result = self.head.forward(features, training)
        return (result, state) if return_state else result

    __call__ = forward

    def backward(self, grad_output: np.ndarray) -> np.ndarray | None:
        """Backpropagate through the last training :meth:`forward`; sets :attr:`grads`.

        Parameters
        ----------
        grad_output : ndarray shaped like the outputs
            Gradient of the loss w.r.t. the outputs.

        Returns
        -------
        ndarray of shape (batch, time, input_size), or None
            Gradient w.r.t. ``x``; None for token input (ids have no gradient).
        """
        grad_features = self.head.backward(grad_output)
        if self._mask is not None:
            grad_features = grad_features * self._mask
        if self.per_step:
            grad_x, _ = self.recurrent.backward(grad_features)
        elif self.pool is None:
            grad_x, _ = self.recurrent.backward(*final_feature_grads(self.recurrent, grad_features))
        else:
            grad_x, _ = self.recurrent.backward(self.pool.backward(grad_features))
        if self.embedding is not None:
            self.embedding.backward(grad_x)
            grad_x = None
        self.grads = joined_params(self._parts(), "grads")
        return grad_x


def final_features(stack: RecurrentStack, state) -> np.ndarray:
    """The top layer's final hidden state, forward then reverse direction: ``(batch, D*H)``."""
    h_n = state[0] if isinstance(state, tuple) else state
    return np.concatenate(list(h_n[-stack.num_directions :]), axis=1)


def final_feature_grads(stack: RecurrentStack, grad_features: np.ndarray):
    """``(grad_output, grad_state)`` for ``stack.backward`` given ``d loss / d final_features``.

    The loss reads only the top layer's final state, so ``grad_output`` is zero.
    """
    batch, hidden, dirs = grad_features.shape[0], stack.hidden_size, stack.num_directions
    cache = stack._require_cache()
    grad_output = np.zeros((batch, cache.time, dirs * hidden), stack.dtype)
    grad_h = np.zeros((stack.num_layers * dirs, batch, hidden), stack.dtype)
    for d in range(dirs):
        grad_h[(stack.num_layers - 1) * dirs + d] = grad_features[:, d * hidden : (d + 1) * hidden]
    return grad_output, ((grad_h, None) if stack._has_cell_state else grad_h)


def joined_params(parts: dict, attribute: str = "params") -> dict:
    """``"<part>.<name>"`` -> each part's parameter array (the same objects); with
    ``attribute="grads"``, each part's gradient of the last backward."""
    return {
        f"{prefix}.{name}": array
        for prefix, part in parts.items()
        for name, array in getattr(part, attribute).items()
    }


def _token_ids(x) -> np.ndarray:
    """Token input as ``(batch, time)`` ids: ``(batch, time, 1)`` loses its last axis."""
    array = np.asarray(x)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise ValueError(f"token input must be (batch, time) ids, got shape {array.shape}")
    return array


def check_joined_params(params: object, parts: dict) -> None:
    """``params`` of a loaded composite module: exactly ``"<part>.<name>"`` for each part's
    parameters, the very same arrays (so an optimizer stepping ``params`` trains the parts)."""
    expected = joined_params(parts)
    if not isinstance(params, dict) or set(params) != set(expected):
        raise ValueError("the module's params do not match its submodules' parameters")
    if any(params[name] is not array for name, array in expected.items()):
        raise ValueError("the module's params are not its submodules' arrays")
