"""Character-level language model: learn a text, generate more like it, measure bits per char."""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

from rnnfast.estimators._base import RNNEstimatorBase, per_step_loss
from rnnfast.estimators._params import shared_init
from rnnfast.nn.losses import cross_entropy, log_softmax
from rnnfast.persistence import persistable

_EVAL_CHUNK = 4096  # characters per forward when scoring long texts (state carried across)


@persistable()
@shared_init(seq_length=64, hidden_size=128, batch_size=32, max_epochs=10, learning_rate=0.005)
class CharRNN(RNNEstimatorBase):
    """Character-level recurrent language model (Karpathy's char-rnn, with numpy and C++).

        The text is cut into pieces of ``seq_length + 1`` characters; the network reads one-hot
        characters and learns to predict each next one (softmax cross-entropy).

        Parameters
        ----------
        seq_length : int, default 64
            Characters per training sequence (backpropagation through time spans this many).
    %(shared_parameters)s
        Attributes
        ----------
        vocabulary_ : str
            The characters of the training text, sorted.
        network_ : rnnfast.nn.SequenceNetwork
        loss_curve_, validation_scores_, best_epoch_, n_iter_
            As in :class:`RNNClassifier` (loss in nats per character).

        Examples
        --------
        >>> from rnnfast import CharRNN
        >>> text = "the cat sat on the mat. " * 200
        >>> model = CharRNN(hidden_size=64, seq_length=32, max_epochs=20, random_state=0).fit(text)
        >>> model.bits_per_char("the cat sat on the mat. " * 4) < 0.2
        True
        >>> len(model.generate("the ", n_chars=20, random_state=0))
        20
    """

    _accepts_tokens = False

    _per_step = True

    def fit(self, text: str, y=None):
        """Learn a character language model of ``text``.

        Parameters
        ----------
        text : str
            The training text, at least ``seq_length + 1`` characters.
        %(y_ignored)s

        Returns
        -------
        self : CharRNN
            The fitted model.
        """
        text = _check_text(text, "text")
        self._check_task_params()
        if len(text) < self.seq_length + 1:
            raise ValueError(
                f"text has {len(text)} characters; seq_length={self.seq_length} needs at least "
                f"{self.seq_length + 1}"
            )
        self.vocabulary_ = "".join(sorted(set(text)))
        self._codes = {ch: i for i, ch in enumerate(self.vocabulary_)}
        codes = self._encode(text, "text")
        n = (len(codes) - 1) // self.seq_length
        starts = np.arange(n) * self.seq_length
        pieces = codes[starts[:, None] + np.arange(self.seq_length + 1)]
        return self._fit(self._one_hot(pieces[:, :-1]), pieces[:, 1:])

    def generate(
        self, prompt: str = "", n_chars: int = 200, temperature: float = 1.0, random_state=None
    ) -> str:
        """Sample ``n_chars`` characters that continue ``prompt``.

        Parameters
        ----------
        prompt : str
            Text to condition on (its characters must be in ``vocabulary_``); empty starts
            from a random training character.
        n_chars : int
            Characters to generate (the prompt is not included in the result).
        temperature : float > 0
            Divides the logits: below 1 is more conservative, above 1 more varied.
        random_state : int, Generator or None
            Seeds the sampling.

        Returns
        -------
        str
            The ``n_chars`` generated characters.
        """
        check_is_fitted(self, "network_")
        prompt = _check_text(prompt, "prompt", allow_empty=True)
        if isinstance(n_chars, bool) or not isinstance(n_chars, numbers.Integral) or n_chars < 0:
            raise ValueError(f"n_chars must be a non-negative integer, got {n_chars!r}")
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, numbers.Real)
            or not (0 < temperature < np.inf)
        ):
            raise ValueError(f"temperature must be a positive number, got {temperature!r}")
        rng = np.random.default_rng(random_state)
        codes = (
            self._encode(prompt, "prompt")
            if prompt
            else np.array([rng.integers(len(self.vocabulary_))])
        )
        logits, state = self.network_.forward(
            self._one_hot(codes[None]), hx=None, training=False, return_state=True
        )
        out = []
        for _ in range(n_chars):
            p = np.exp(log_softmax(logits[0, -1].astype(np.float64) / temperature))
            code = int(rng.choice(len(p), p=p / p.sum()))
            out.append(self.vocabulary_[code])
            logits, state = self.network_.forward(
                self._one_hot(np.array([[code]])), hx=state, training=False, return_state=True
            )
        return "".join(out)

    def bits_per_char(self, text: str) -> float:
        """Return the mean ``-log2 p(next char)`` over ``text[1:]``.

        Parameters
        ----------
        text : str
            At least 2 characters, each in ``vocabulary_``; each is predicted from all before it.

        Returns
        -------
        float
            Bits per character (lower is better; uniform guessing gives ``log2(vocabulary)``).
        """
        check_is_fitted(self, "network_")
        codes = self._encode(_check_text(text, "text"), "text")
        if len(codes) < 2:
            raise ValueError("text must have at least 2 characters")
        total, state = 0.0, None
        for start in range(0, len(codes) - 1, _EVAL_CHUNK):
            inputs = codes[start : start + _EVAL_CHUNK]
            targets = codes[start + 1 : start + _EVAL_CHUNK + 1]
            inputs = inputs[: len(targets)]
            logits, state = self.network_.forward(
                self._one_hot(inputs[None]), hx=state, training=False, return_state=True
            )
            log_p = log_softmax(logits[0].astype(np.float64))
            total -= log_p[np.arange(len(targets)), targets].sum()
        return float(total / (len(codes) - 1) / np.log(2))

    # task hooks
    def _check_task_params(self):
        s = self.seq_length
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
            raise ValueError(f"seq_length must be a positive integer, got {s!r}")
        if self.bidirectional:
            raise ValueError("bidirectional=True would let a language model read the future")

    def _prepare_targets(self, seqs, y, weights, fitting):
        return y, np.broadcast_to(weights[:, None], y.shape).astype(np.float32)

    _saved_attributes = RNNEstimatorBase._saved_attributes | {"vocabulary_", "_codes"}

    def _check_loaded_targets(self):
        vocabulary = self.vocabulary_
        if not isinstance(vocabulary, str) or not vocabulary:
            raise ValueError("vocabulary_ must be a non-empty string")
        if "".join(sorted(set(vocabulary))) != vocabulary or self._codes != {
            ch: i for i, ch in enumerate(vocabulary)
        }:
            raise ValueError("vocabulary_ must be sorted distinct characters, _codes their indices")
        if self.n_features_in_ != len(vocabulary):
            raise ValueError("n_features_in_ must be the vocabulary's size (one-hot input)")

    def _output_size(self) -> int:
        return len(self.vocabulary_)

    def _loss(self, outputs, targets, weights, lengths):
        return per_step_loss(cross_entropy, outputs, targets, weights, lengths)

    def _one_hot(self, codes: np.ndarray) -> np.ndarray:
        return np.eye(len(self.vocabulary_), dtype=np.float32)[codes]

    def _encode(self, text: str, name: str) -> np.ndarray:
        unknown = sorted(set(text) - set(self._codes))
        if unknown:
            raise ValueError(
                f"{name} has characters not in the training vocabulary: {unknown[:20]}"
            )
        return np.fromiter((self._codes[ch] for ch in text), np.int64, len(text))


def _check_text(text, name: str, allow_empty: bool = False) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}")
    if not text and not allow_empty:
        raise ValueError(f"{name} is empty")
    return text
