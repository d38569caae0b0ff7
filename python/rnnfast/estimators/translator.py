"""Sequence-to-sequence translation: an attention encoder-decoder from source token sequences
to target token sequences (strings or integer ids), trained with teacher forcing."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

from rnnfast.data.sequences import Sequences
from rnnfast.data.text import TextSequencer
from rnnfast.estimators._base import RNNEstimatorBase, per_step_loss
from rnnfast.estimators._params import shared_init
from rnnfast.nn import ATTENTION_KINDS, EncoderDecoder
from rnnfast.nn.losses import cross_entropy
from rnnfast.persistence import persistable

START_ID, END_ID = 2, 3  # target ids: 0 padding, 1 unused, 2 start, 3 end, then the tokens
_TARGET_OFFSET = 2  # a TextSequencer id (>= 2) + 2 is a target id; an integer label + 4 is
_SOURCE_OFFSET = 2  # an integer source label + 2 is a source id (0 padding, 1 unseen)


class _Pairs:
    """Encoded pairs handed from :meth:`SequenceTranslator.fit` to the shared ``_fit``."""

    def __init__(self, sequences: Sequences) -> None:
        self.sequences = sequences


@persistable()
@shared_init(
    analyzer="char",
    attention="general",
    beam_size=1,
    max_length=None,
    embedding_dim=32,
    hidden_size=64,
    bidirectional=True,
    max_epochs=30,
    learning_rate=0.005,
)
class SequenceTranslator(RNNEstimatorBase):
    """Encoder-decoder with attention: a sequence of tokens in, another out.

        A bidirectional recurrent encoder reads the source; a recurrent decoder, started
        from the encoder's final state, reads the target shifted right (teacher forcing) and
        its states attend over the encoder's outputs (Luong's attention on top of the decoder
        states, see :class:`rnnfast.nn.EncoderDecoder`); softmax cross-entropy over the target
        tokens trains it. ``predict`` decodes step by step on the streaming core, greedily or
        by beam search.

        Parameters
        ----------
        analyzer : {"char", "word"} or callable, default "char"
            How strings are split into tokens (see :class:`rnnfast.TextSequencer`); predicted
            strings are joined back with "" (characters) or " " (words, callables). Ignored
            for sources or targets given as integer sequences.
        attention : {"general", "additive"}, default "general"
            The attention score (see :class:`rnnfast.nn.Attention`).
        beam_size : int, default 1
            Hypotheses kept while decoding in ``predict`` (1: greedy).
        max_length : int or None, default None
            Most tokens ``predict`` generates per sequence; None: twice the longest target
            seen in ``fit``, plus 2.
    %(shared_parameters)s
        Attributes
        ----------
        source_kind_, target_kind_ : {"str", "ids"}
            What ``fit`` was given on each side; ``predict`` returns the target kind.
        source_sequencer_, target_sequencer_ : TextSequencer or None
            The vocabularies of string sides.
        network_ : rnnfast.nn.EncoderDecoder
        loss_curve_, validation_scores_, best_epoch_, n_iter_
            As in :class:`RNNClassifier` (validation score: minus the validation loss).

        Notes
        -----
        ``embedding_dim`` (default 32 here) is the size of both embeddings; ``bidirectional``
        must stay True (the encoder is bidirectional, the decoder reads left to right);
        ``bptt_steps`` is not supported.

        Examples
        --------
        >>> from rnnfast import SequenceTranslator
        >>> words = ["abc", "hello", "rnn", "fast", "seq", "model", "token", "data"] * 25
        >>> model = SequenceTranslator(hidden_size=32, max_epochs=25, random_state=0)
        >>> model.fit(words, [w[::-1] for w in words]).predict(["data", "abc"])
        ['atad', 'cba']
    """

    _per_step = True
    _saved_attributes = RNNEstimatorBase._saved_attributes | {
        "source_kind_",
        "target_kind_",
        "source_sequencer_",
        "target_sequencer_",
        "source_vocabulary_",
        "target_vocabulary_",
        "max_target_length_",
    }

    def fit(self, X, y, sample_weight=None):
        """Learn to map each source ``X[i]`` to its target ``y[i]``.

        Parameters
        ----------
        X : list of str, or list of 1-D arrays of non-negative int ids
            The sources.
        y : list of str, or list of 1-D arrays of non-negative int ids
            The target of each source.
        %(sample_weight)s

        Returns
        -------
        self : SequenceTranslator
            The fitted estimator.
        """
        fresh = not (self.warm_start or getattr(self, "_resuming", False)) or not hasattr(
            self, "network_"
        )
        self._check_task_params()
        pairs, target_out = self._encode_pairs(X, y, fitting=fresh)
        return self._fit(_Pairs(pairs), target_out, sample_weight)

    def predict(self, X, beam_size=None, max_length=None):
        """Translate each source.

        Parameters
        ----------
        X : list of str, or list of 1-D int id arrays
            The sources, of the kind ``fit`` was given.
        beam_size : int or None
            Overrides the ``beam_size`` parameter.
        max_length : int or None
            Overrides the ``max_length`` parameter.

        Returns
        -------
        list of str, or list of int64 arrays
            One translation per source, of the kind of ``y`` in ``fit``.
        """
        check_is_fitted(self, "network_")
        beam = self.beam_size if beam_size is None else beam_size
        if isinstance(beam, bool) or not isinstance(beam, numbers.Integral) or beam < 1:
            raise ValueError(f"beam_size must be a positive integer, got {beam!r}")
        limit = self.max_length if max_length is None else max_length
        if limit is None:
            limit = 2 * self.max_target_length_ + 2
        if isinstance(limit, bool) or not isinstance(limit, numbers.Integral) or limit < 1:
            raise ValueError(f"max_length must be a positive integer, got {limit!r}")
        source = self._encode_side(X, "X", "source", fitting=False)
        lengths = np.array([len(s) for s in source], np.int64)
        padded = _padded(source)
        out = []
        batch, _ = self._inference_split(padded.shape[1])
        for begin in range(0, len(source), batch):
            part = slice(begin, begin + batch)
            out += self.network_.generate(
                padded[part],
                lengths[part],
                start_id=START_ID,
                end_id=END_ID,
                max_length=int(limit),
                beam_size=int(beam),
            )
        return [self._decode(ids) for ids in out]

    def score(self, X, y, sample_weight=None) -> float:
        """Return the exact-match accuracy: the share of sources translated exactly to ``y``.

        Parameters
        ----------
        X : list of str, or list of 1-D int id arrays
            The sources.
        y : list of str, or list of 1-D int id arrays
            The reference targets.
        sample_weight : array-like of shape (n,), optional
            Weight of each source; None weighs all equally.

        Returns
        -------
        float
            Between 0 and 1.
        """
        predicted = self.predict(X)
        reference = self._check_side(y, "y", fitting=False, kind=self.target_kind_)
        same = np.array(
            [_equal(p, r) for p, r in zip(predicted, reference, strict=True)], dtype=float
        )
        return float(np.average(same, weights=sample_weight))

    # ------------------------------------------------------------------ encoding
    def _encode_pairs(self, X, y, fitting: bool):
        """``(n, T, 2)`` ids (source, target shifted right) and ``(n, T)`` target ids."""
        source = self._encode_side(X, "X", "source", fitting)
        target = self._encode_side(y, "y", "target", fitting)
        if len(source) != len(target):
            raise ValueError(f"X has {len(source)} sources but y has {len(target)} targets")
        if fitting:
            self.max_target_length_ = max(len(t) for t in target)
        time = max(max(len(s) for s in source), max(len(t) for t in target) + 1)
        pairs = np.zeros((len(source), time, 2), np.int64)
        target_out = np.zeros((len(source), time), np.int64)
        lengths = np.zeros(len(source), np.int64)
        for i, (s, t) in enumerate(zip(source, target, strict=True)):
            pairs[i, : len(s), 0] = s
            pairs[i, : len(t) + 1, 1] = np.concatenate([[START_ID], t])
            target_out[i, : len(t) + 1] = np.concatenate([t, [END_ID]])
            lengths[i] = max(len(s), len(t) + 1)
        return Sequences(pairs, lengths, "list"), target_out

    def _encode_side(self, values, name: str, side: str, fitting: bool) -> list[np.ndarray]:
        kind = None if fitting else getattr(self, f"{side}_kind_")
        items = self._check_side(values, name, fitting, kind)
        if fitting:
            kind = "str" if isinstance(items[0], str) else "ids"
            setattr(self, f"{side}_kind_", kind)
        offset = _SOURCE_OFFSET if side == "source" else _SOURCE_OFFSET + _TARGET_OFFSET
        if kind == "ids":
            if fitting:
                setattr(self, f"{side}_sequencer_", None)
                setattr(self, f"{side}_vocabulary_", max(int(i.max()) for i in items) + 1 + offset)
            size = getattr(self, f"{side}_vocabulary_")
            if side == "target" and any(int(i.max()) + offset >= size for i in items):
                raise ValueError(f"{name} holds ids the first fit never saw; refit from scratch")
            return [np.where(i + offset < size, i + offset, 1) for i in items]
        if fitting:
            sequencer = TextSequencer(analyzer=self.analyzer, lowercase=False).fit(items)
            setattr(self, f"{side}_sequencer_", sequencer)
            setattr(self, f"{side}_vocabulary_", sequencer.n_tokens_ + offset - _SOURCE_OFFSET)
        ids = getattr(self, f"{side}_sequencer_").transform(items)
        if side == "source":
            return ids  # unseen source tokens read as id 1
        if any((row == 1).any() for row in ids):  # only when continuing a fit
            raise ValueError(f"{name} holds tokens the first fit never saw; refit from scratch")
        return [row + _TARGET_OFFSET for row in ids]

    def _check_side(self, values, name: str, fitting: bool, kind) -> list:
        """A non-empty list of strings, or of non-empty 1-D non-negative integer arrays."""
        if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
            raise TypeError(
                f"{name} must be a list of strings or of integer sequences, got "
                f"{type(values).__name__}"
            )
        items = list(values)
        if not items:
            raise ValueError(f"{name} is empty: at least one sequence is required")
        strings = [isinstance(v, str) for v in items]
        if any(strings) and not all(strings):
            raise TypeError(f"{name} must hold only strings or only integer sequences")
        if all(strings):
            if kind == "ids":
                raise TypeError(f"{name} holds strings but fit was given integer sequences")
            for i, text in enumerate(items):
                if not text:
                    raise ValueError(f"{name}[{i}] is an empty string")
            return items
        if kind == "str":
            raise TypeError(f"{name} must hold strings, as in fit")
        arrays = []
        for i, item in enumerate(items):
            array = np.asarray(item)
            if array.ndim != 1 or array.dtype.kind not in "iu" or array.size == 0:
                raise TypeError(
                    f"{name}[{i}] must be a string or a non-empty 1-D array of integer ids, "
                    f"got {item!r:.60}"
                )
            if array.min() < 0:
                raise ValueError(f"{name}[{i}] holds negative ids")
            arrays.append(array.astype(np.int64))
        return arrays

    def _decode(self, ids: np.ndarray):
        labels = ids - _SOURCE_OFFSET - _TARGET_OFFSET  # ids 0-3 are reserved
        if self.target_kind_ == "ids":
            return labels[labels >= 0]
        tokens = self.target_sequencer_.get_feature_names_out()
        words = [tokens[i + _SOURCE_OFFSET] for i in labels if i >= 0]
        return ("" if self.analyzer == "char" else " ").join(words)

    # ------------------------------------------------------------------ task hooks
    def _check_X(self, X, fitting: bool) -> Sequences:
        if not isinstance(X, _Pairs):  # only fit() calls the shared machinery
            raise TypeError("SequenceTranslator reads sources through fit() and predict()")
        return X.sequences

    def _network_input(self, seqs: Sequences) -> Sequences:
        return seqs

    def _network_forward(self, network, seqs: Sequences, training: bool) -> np.ndarray:
        source, target_in = seqs.values[:, :, 0], seqs.values[:, :, 1]
        return network.forward(
            source,
            np.maximum((source != 0).sum(axis=1), 1),
            target_in,
            np.maximum((target_in != 0).sum(axis=1), 1),
            training=training,
        )

    def _build_network(self, rng) -> EncoderDecoder:
        return EncoderDecoder(
            self.cell,
            self.source_vocabulary_,
            self.target_vocabulary_,
            self.embedding_dim,
            self.hidden_size,
            num_layers=self.num_layers,
            attention=self.attention,
            dropout=self.dropout,
            random_state=rng,
        )

    def _prepare_targets(self, seqs, y, weights, fitting):
        mask = (y != 0).astype(np.float32)
        return y, weights[:, None] * mask

    def _output_size(self) -> int:
        return self.target_vocabulary_

    def _loss(self, outputs, targets, weights, lengths):
        return per_step_loss(cross_entropy, outputs, targets, weights, lengths)

    def _check_task_params(self):
        if self.attention not in ATTENTION_KINDS[1:]:
            raise ValueError(
                f"attention must be one of {ATTENTION_KINDS[1:]}, got {self.attention!r}"
            )
        if not (self.analyzer in ("char", "word") or callable(self.analyzer)):
            raise ValueError(
                f"analyzer must be 'char', 'word' or a callable, got {self.analyzer!r}"
            )
        if self.bidirectional is not True:
            raise ValueError("bidirectional must be True: the encoder reads both ways")
        if self.bptt_steps is not None:
            raise ValueError("bptt_steps is not supported by SequenceTranslator")
        for name in ("beam_size", "max_length"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1
            ):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")

    def _check_loaded_network(self, net) -> None:
        if not isinstance(net, EncoderDecoder) or net.dtype != np.float32:
            raise TypeError("network_ must be a float32 EncoderDecoder")
        if (
            net.source_embedding.num_embeddings != self.source_vocabulary_
            or net.target_vocabulary != self.target_vocabulary_
        ):
            raise ValueError("network_'s vocabularies do not match the translator's")
        for side in ("source", "target"):
            kind = getattr(self, f"{side}_kind_")
            sequencer = getattr(self, f"{side}_sequencer_")
            if kind not in ("str", "ids") or (kind == "str") != isinstance(
                sequencer, TextSequencer
            ):
                raise ValueError(f"{side}_kind_ and {side}_sequencer_ disagree")

    def _can_stream(self) -> bool:
        return False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = False
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


def _padded(rows: list[np.ndarray]) -> np.ndarray:
    out = np.zeros((len(rows), max(len(r) for r in rows)), np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def _equal(predicted, reference) -> bool:
    if isinstance(reference, str):
        return predicted == reference
    return np.array_equal(np.asarray(predicted), np.asarray(reference))
