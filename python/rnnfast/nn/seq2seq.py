"""Sequence to sequence with attention: a bidirectional encoder over source tokens and a
decoder over target tokens whose states attend over the encoder's outputs (Luong et al. 2015,
attention on top of the decoder states, no input feeding), so a teacher-forced decoder pass is
one call into the core and attention is batched matrix products. Generation steps the decoder
through the streaming core, greedy or by beam search.

::

    source ids -> Embedding -> bidirectional stack -> memory (B, Ts, 2H), final state (B, 2H)
    final state -> Linear -> tanh -> decoder initial state (every layer)
    target ids -> Embedding -> stack (B, Tt, H) -> attention over memory -> context (B, Tt, 2H)
    [decoder state; context] -> Linear -> tanh -> Linear -> logits (B, Tt, target_vocabulary)
"""

from __future__ import annotations

import numpy as np

from rnnfast._saving import SaveMixin
from rnnfast._validation import check_dtype, check_positive_int
from rnnfast.nn._docs import documented
from rnnfast.nn.attention import Attention
from rnnfast.nn.dense import Linear
from rnnfast.nn.embedding import Embedding
from rnnfast.nn.init import as_generator
from rnnfast.nn.losses import log_softmax
from rnnfast.nn.network import (
    check_joined_params,
    final_feature_grads,
    final_features,
    joined_params,
    make_recurrent,
)
from rnnfast.nn.recurrent import RecurrentStack
from rnnfast.persistence import persistable


@persistable(reset={"grads": None, "_cache": None})
@documented
class EncoderDecoder(SaveMixin):
    """An attention encoder-decoder over token ids (id 0 is padding in both vocabularies).

    Parameters
    ----------
    cell : {"lstm", "gru", "rnn", "rnn_relu"}
        The recurrent cell of the encoder and the decoder.
    source_vocabulary, target_vocabulary : int
        Ids per side, padding included.
    embedding_dim, hidden_size : int
        Embedding size (both sides) and hidden units per layer and direction.
    num_layers : int, default 1
        Stacked layers of the encoder and of the decoder.
    attention : {"dot", "general", "additive"}, default "general"
        The score (see :class:`~rnnfast.nn.Attention`); ``"dot"`` needs the decoder state and
        the memory to have one size, which they do not (``H`` and ``2H``), so it is refused.
    dropout : float, default 0
        Between stacked layers in training forwards.
    dtype : numpy.float32 or numpy.float64, default float32
        Precision of the parameters and computations.
    random_state : int, numpy.random.Generator or None
        Seeds the weights and the dropout masks.

    Attributes
    ----------
    source_embedding, target_embedding : Embedding
    encoder : RecurrentStack (bidirectional)
    bridge : Linear ``(2H -> H)``: the decoder's initial state from the encoder's final one
    decoder : RecurrentStack
    attention : Attention
    combine : Linear ``(3H -> H)``, then tanh: the attentional state
    head : Linear ``(H -> target_vocabulary)``
    params, grads : dict of str to ndarray
        Every parameter, keyed ``"<part>.<name>"``.
    """

    _saved_attributes = frozenset(
        {"source_embedding", "encoder", "bridge", "target_embedding", "decoder"}
        | {"attention", "combine", "head", "dtype", "params", "grads", "_cache"}
    )
    _PARTS = (
        "source_embedding",
        "encoder",
        "bridge",
        "target_embedding",
        "decoder",
        "attention",
        "combine",
        "head",
    )

    def __init__(
        self,
        cell: str,
        source_vocabulary: int,
        target_vocabulary: int,
        embedding_dim: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        attention: str = "general",
        dropout: float = 0.0,
        dtype: object = np.float32,
        random_state=None,
    ) -> None:
        self.dtype = check_dtype(dtype)
        rng = as_generator(random_state)
        hidden = check_positive_int(hidden_size, "hidden_size")
        if attention == "dot":
            raise ValueError(
                "attention='dot' needs decoder states and memory of one size; the memory of a "
                "bidirectional encoder is twice as wide: use 'general' or 'additive'"
            )
        stack = dict(num_layers=num_layers, dropout=dropout, init="torch", dtype=self.dtype)
        self.source_embedding = Embedding(
            source_vocabulary, embedding_dim, padding_idx=0, dtype=self.dtype, random_state=rng
        )
        self.encoder = make_recurrent(
            cell, embedding_dim, hidden, bidirectional=True, random_state=rng, **stack
        )
        self.bridge = Linear(2 * hidden, hidden, self.dtype, rng)
        self.target_embedding = Embedding(
            target_vocabulary, embedding_dim, padding_idx=0, dtype=self.dtype, random_state=rng
        )
        self.decoder = make_recurrent(cell, embedding_dim, hidden, random_state=rng, **stack)
        self.attention = Attention(
            hidden, 2 * hidden, kind=attention, dtype=self.dtype, random_state=rng
        )
        self.combine = Linear(3 * hidden, hidden, self.dtype, rng)
        self.head = Linear(hidden, target_vocabulary, self.dtype, rng)
        self.params = joined_params(self._parts())
        self.grads: dict[str, np.ndarray] | None = None
        self._cache: dict | None = None

    def _parts(self) -> dict:
        return {name: getattr(self, name) for name in self._PARTS}

    @property
    def target_vocabulary(self) -> int:
        """Target ids, padding included: the logits per target step."""
        return self.head.out_features

    output_size = target_vocabulary  # logits per target step

    def random_generators(self) -> tuple[np.random.Generator, ...]:
        """%(random_generators)s"""
        return (*self.encoder.random_generators(), *self.decoder.random_generators())

    def max_batch(self, time: int) -> int:
        """%(max_batch)s"""
        return min(self.encoder.max_batch(time), self.decoder.max_batch(time))

    # ------------------------------------------------------------------------------ encoder
    def encode(self, source, source_lengths=None, training: bool = False):
        """Encode source ids.

        Parameters
        ----------
        source : int array of shape (B, Ts)
            Source ids, 0 past each length.
        source_lengths : int array of shape (B,), optional
            Valid source steps per sample; None: all.
        training : bool, default False
            Keep what :meth:`backward` needs and apply dropout.

        Returns
        -------
        memory : ndarray of shape (B, Ts, 2H)
            The bidirectional encoder's outputs, attended over by the decoder.
        start : ndarray of shape (B, H)
            The decoder's initial state (through ``bridge``).
        """
        memory, state = self.encoder.forward(
            self.source_embedding.forward(source, training), source_lengths, None, training
        )
        start = np.tanh(self.bridge.forward(final_features(self.encoder, state), training))
        return memory, start

    def _decoder_state(self, start: np.ndarray):
        """The decoder's ``hx``: ``start`` ``(B, H)`` in every layer (zero cell states)."""
        h0 = np.ascontiguousarray(np.broadcast_to(start, (self.decoder.num_layers, *start.shape)))
        return (h0, np.zeros_like(h0)) if self.decoder._has_cell_state else h0

    def _output_layer(self, states, memory, source_lengths, training: bool):
        """Logits of decoder ``states`` ``(B, Tt, H)`` attending over ``memory``."""
        context, _ = self.attention.forward(states, memory, source_lengths, training)
        attentional = np.tanh(
            self.combine.forward(np.concatenate([states, context], axis=-1), training)
        )
        return self.head.forward(attentional, training), attentional

    # ------------------------------------------------------------------------------ forward
    def forward(self, source, source_lengths, target_in, target_lengths, training=True):
        """Teacher-forced logits.

        Parameters
        ----------
        source : int array of shape (batch, Ts)
            Source ids, 0 past each length.
        source_lengths : int array of shape (batch,) or None
            Valid source steps per sample; None: all.
        target_in : int array of shape (batch, Tt)
            The decoder's inputs: the target shifted right (a start id first).
        target_lengths : int array of shape (batch,) or None
            Valid target steps per sample; None: all.
        training : bool, default True
            Keep what :meth:`backward` needs.

        Returns
        -------
        ndarray of shape (batch, Tt, target_vocabulary)
            The logits of each target step.
        """
        memory, start = self.encode(source, source_lengths, training)
        states, _ = self.decoder.forward(
            self.target_embedding.forward(target_in, training),
            target_lengths,
            self._decoder_state(start),
            training,
        )
        logits, attentional = self._output_layer(states, memory, source_lengths, training)
        if training:
            self._cache = dict(start=start, attentional=attentional)
            self.grads = None
        return logits

    __call__ = forward

    # ----------------------------------------------------------------------------- backward
    def backward(self, grad_logits: np.ndarray) -> None:
        """Backpropagate through the last training :meth:`forward`; sets :attr:`grads`.

        Parameters
        ----------
        grad_logits : ndarray of shape (batch, Tt, target_vocabulary)
            Gradient of the loss w.r.t. the logits.
        """
        if self._cache is None:
            raise RuntimeError("EncoderDecoder.backward() needs a forward(..., training=True)")
        start, attentional = self._cache["start"], self._cache["attentional"]
        grad_attentional = self.head.backward(grad_logits)
        grad_joined = self.combine.backward(grad_attentional * (1 - attentional * attentional))
        hidden = self.decoder.hidden_size
        grad_states, grad_memory = self.attention.backward(grad_joined[..., hidden:])
        grad_states = grad_states + grad_joined[..., :hidden]
        grad_target, grad_hx = self.decoder.backward(grad_states)
        self.target_embedding.backward(grad_target)
        grad_h0 = grad_hx[0] if isinstance(grad_hx, tuple) else grad_hx
        grad_start = grad_h0.sum(axis=0)  # the same start state feeds every layer
        grad_code = self.bridge.backward(grad_start * (1 - start * start))
        zeros, grad_state = final_feature_grads(self.encoder, grad_code)
        grad_source, _ = self.encoder.backward(zeros + grad_memory, grad_state)
        self.source_embedding.backward(grad_source)
        self.grads = joined_params(self._parts(), "grads")

    # --------------------------------------------------------------------------- generation
    def generate(
        self,
        source,
        source_lengths=None,
        *,
        start_id: int,
        end_id: int,
        max_length: int,
        beam_size: int = 1,
    ) -> list[np.ndarray]:
        """Decode each source step by step on the streaming core.

        Greedy (``beam_size=1``) or beam search; each step is one decoder step (no re-running of the
        prefix).

        Parameters
        ----------
        source : int array of shape (B, Ts)
            Source ids, 0 past each length.
        source_lengths : int array of shape (B,), optional
            Valid source steps per sample; None: all.
        start_id, end_id : int
            The target ids that start a decoding and end a hypothesis.
        max_length : int
            Most ids per hypothesis.
        beam_size : int, default 1
            Hypotheses kept per source.

        Returns
        -------
        list of int64 arrays
            Each source's best target ids, without the start id and without ``end_id`` (a
            hypothesis ends at ``end_id`` or after ``max_length`` ids).
        """
        beam = check_positive_int(beam_size, "beam_size")
        max_length = check_positive_int(max_length, "max_length")
        memory, start = self.encode(source, source_lengths, training=False)
        batch = len(memory)
        # every hypothesis of a source is a row: row b * beam + k
        memory = np.repeat(memory, beam, axis=0)
        lengths = None if source_lengths is None else np.repeat(source_lengths, beam)
        stream = self.decoder.stream(batch * beam, self._decoder_state(np.repeat(start, beam, 0)))
        table = self.target_embedding.params["weight"]
        tokens = np.full(batch * beam, start_id, np.int64)
        scores = np.zeros((batch, beam))
        scores[:, 1:] = -np.inf  # start from one hypothesis per source
        finished = np.zeros(batch * beam, bool)
        history = np.zeros((batch * beam, 0), np.int64)
        for _ in range(max_length):
            states = stream.step(table[tokens])[:, None, :]
            logits, _ = self._output_layer(states, memory, lengths, training=False)
            log_probs = log_softmax(logits[:, 0].astype(np.float64))
            # a finished hypothesis only extends by end_id, at no cost
            log_probs[finished] = -np.inf
            log_probs[finished, end_id] = 0.0
            total = (scores.reshape(-1, 1) + log_probs).reshape(batch, -1)
            best = np.argsort(-total, axis=1, kind="stable")[:, :beam]
            scores = np.take_along_axis(total, best, axis=1)
            rows = (np.arange(batch)[:, None] * beam + best // self.target_vocabulary).ravel()
            tokens = (best % self.target_vocabulary).ravel()
            history = np.concatenate([history[rows], tokens[:, None]], axis=1)
            finished = finished[rows] | (tokens == end_id)
            stream.reset(_select_rows(stream.state, rows))
            if finished.all():
                break
        best_rows = np.arange(batch) * beam + scores.argmax(axis=1)
        out = []
        for row in history[best_rows]:
            ends = np.flatnonzero(row == end_id)
            out.append(row[: ends[0]] if len(ends) else row)
        return out

    def _check_loaded_state(self) -> None:
        """Called by :func:`rnnfast.load`: the parts fit together."""
        parts = self._parts()
        if not isinstance(self.encoder, RecurrentStack) or not isinstance(
            self.decoder, RecurrentStack
        ):
            raise TypeError("EncoderDecoder needs recurrent encoder and decoder stacks")
        hidden = self.decoder.hidden_size
        embedding = self.source_embedding.embedding_dim
        consistent = (
            self.encoder.bidirectional
            and not self.decoder.bidirectional
            and self.encoder.hidden_size == hidden
            and self.encoder.input_size == embedding
            and self.decoder.input_size == self.target_embedding.embedding_dim == embedding
            and (self.bridge.in_features, self.bridge.out_features) == (2 * hidden, hidden)
            and (self.attention.query_size, self.attention.memory_size) == (hidden, 2 * hidden)
            and (self.combine.in_features, self.combine.out_features) == (3 * hidden, hidden)
            and self.head.in_features == hidden
            and self.head.out_features == self.target_embedding.num_embeddings
            and all(part.dtype == self.dtype for part in parts.values())
        )
        if not consistent:
            raise ValueError("EncoderDecoder's parts do not fit together")
        check_joined_params(self.params, parts)


def _select_rows(state, rows: np.ndarray):
    """The stream state ``(layers, batch, H)`` (or ``(h, c)``) of hypotheses ``rows``."""
    if isinstance(state, tuple):
        return tuple(np.ascontiguousarray(s[:, rows]) for s in state)
    return np.ascontiguousarray(state[:, rows])
