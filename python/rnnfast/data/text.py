"""Raw text to integer token sequences: the sequence counterpart of scikit-learn's
``CountVectorizer`` and Keras' ``TextVectorization``."""

from __future__ import annotations

import collections
import numbers
import re

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from rnnfast._saving import SaveMixin
from rnnfast.persistence import persistable

PADDING_ID = 0  # never produced: what padded 2-D token arrays hold past a sequence's end
OOV_ID = 1  # out of vocabulary: a token never seen in fit, or cut by max_tokens/min_frequency
PADDING_TOKEN = "[PAD]"
OOV_TOKEN = "[UNK]"
# Words (with an inner apostrophe, so "don't" stays one token) and single punctuation marks.
WORD_PATTERN = r"\w+(?:'\w+)*|[^\w\s]"
_WORD = re.compile(WORD_PATTERN)


@persistable()
class TextSequencer(
    SaveMixin,
    TransformerMixin,
    BaseEstimator,
    auto_wrap_output_keys=None,  # ragged id sequences fit no DataFrame (see SequenceScaler)
):
    """Turn strings into sequences of token ids, in order (unlike a bag of words).

    Id 0 is padding and is never produced; id 1 stands for every token outside the
    vocabulary (never seen in ``fit``, or cut by ``max_tokens``/``min_frequency``), so any
    text transforms without error. The vocabulary is ordered by frequency in ``fit``, ties by
    the token itself, from id 2.

    Parameters
    ----------
    analyzer : {"word", "char"} or callable, default "word"
        ``"word"``: tokens are words (letters, digits and underscores, with inner apostrophes
        such as "don't") and single punctuation marks, by the regular expression
        ``WORD_PATTERN``. ``"char"``: every character. A callable takes a string and returns
        its tokens (a list of strings).
    lowercase : bool, default True
        Lowercase before tokenizing.
    max_tokens : int or None, default None
        Largest vocabulary size, the two reserved ids included (as Keras counts); the most
        frequent tokens are kept.
    min_frequency : int, default 1
        Tokens seen fewer times in ``fit`` are out of vocabulary.

    Attributes
    ----------
    vocabulary_ : dict of str to int
        Token -> id, ids from 2.
    n_tokens_ : int
        Ids in use, reserved ones included: the ``num_embeddings`` an embedding needs.

    Examples
    --------
    >>> from rnnfast import TextSequencer
    >>> seq = TextSequencer().fit(["not good at all", "good, very good"])
    >>> [ids.tolist() for ids in seq.transform(["very good", "not bad"])]
    [[7, 2], [6, 1]]
    >>> seq.inverse_transform(seq.transform(["not bad"]))
    [['not', '[UNK]']]
    """

    _saved_attributes = frozenset({"vocabulary_", "n_tokens_", "_tokens"})

    def __init__(
        self,
        analyzer="word",
        lowercase: bool = True,
        max_tokens: int | None = None,
        min_frequency: int = 1,
    ) -> None:
        self.analyzer = analyzer
        self.lowercase = lowercase
        self.max_tokens = max_tokens
        self.min_frequency = min_frequency

    def fit(self, X, y=None):
        """Learn the vocabulary of ``X``.

        Parameters
        ----------
        X : iterable of str
            The documents.
        y : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        self : TextSequencer
            The fitted sequencer.
        """
        self._check_params()
        documents = self._tokenized(X)
        counts = collections.Counter(token for tokens in documents for token in tokens)
        kept = sorted(
            (t for t, c in counts.items() if c >= self.min_frequency),
            key=lambda t: (-counts[t], t),
        )
        if self.max_tokens is not None:
            kept = kept[: self.max_tokens - 2]
        self.vocabulary_ = {token: index for index, token in enumerate(kept, start=2)}
        self.n_tokens_ = len(kept) + 2
        self._tokens = np.array([PADDING_TOKEN, OOV_TOKEN, *kept], dtype=object)
        return self

    def transform(self, X) -> list[np.ndarray]:
        """Turn each string into its token ids, in order.

        Parameters
        ----------
        X : iterable of str
            The documents.

        Returns
        -------
        list of 1-D int64 ndarray
            The ids of each document (lengths differ); unseen tokens read as id 1.
        """
        check_is_fitted(self, "vocabulary_")
        lookup = self.vocabulary_.get
        return [
            np.fromiter((lookup(t, OOV_ID) for t in tokens), np.int64, len(tokens))
            for tokens in self._tokenized(X)
        ]

    def inverse_transform(self, X) -> list[list[str]]:
        """Turn id sequences back into tokens.

        Parameters
        ----------
        X : list of 1-D int arrays, or 2-D int array padded with 0
            Id sequences.

        Returns
        -------
        list of list of str
            The tokens of each sequence; padding is dropped, out-of-vocabulary ids read
            ``"[UNK]"``.
        """
        check_is_fitted(self, "vocabulary_")
        rows = list(X) if not isinstance(X, np.ndarray) or X.ndim == 2 else None
        if rows is None:
            raise ValueError(f"X must be a list of 1-D id arrays or a 2-D array, got {X.shape}")
        out = []
        for i, row in enumerate(rows):
            ids = np.asarray(row)
            if ids.ndim != 1 or ids.dtype.kind not in "iu":
                raise TypeError(f"X[{i}] must be a 1-D array of integer ids")
            if ids.size and (ids.min() < 0 or ids.max() >= self.n_tokens_):
                raise ValueError(f"X[{i}] has ids outside [0, {self.n_tokens_})")
            out.append(self._tokens[ids[ids != PADDING_ID]].tolist())
        return out

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Return the token of each id, ``"[PAD]"`` and ``"[UNK]"`` first.

        Parameters
        ----------
        input_features : None
            Ignored; present for the scikit-learn API.

        Returns
        -------
        ndarray of object
            Entry ``i`` is the token of id ``i``.
        """
        check_is_fitted(self, "vocabulary_")
        return self._tokens.copy()

    def _check_loaded_state(self) -> None:
        """Called by :func:`rnnfast.load`: the hyperparameters are valid and the vocabulary,
        the id count and the id-to-token table agree."""
        if callable(self.analyzer):
            raise TypeError("a saved TextSequencer cannot hold a callable analyzer")
        self._check_params()
        if "vocabulary_" not in vars(self):
            return
        tokens = self._tokens
        if (
            not isinstance(tokens, np.ndarray)
            or tokens.ndim != 1
            or len(tokens) != self.n_tokens_
            or list(tokens[:2]) != [PADDING_TOKEN, OOV_TOKEN]
            or self.vocabulary_ != {t: i for i, t in enumerate(tokens[2:].tolist(), start=2)}
        ):
            raise ValueError("TextSequencer's vocabulary_, n_tokens_ and token table disagree")

    # ------------------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        if not (self.analyzer in ("word", "char") or callable(self.analyzer)):
            raise ValueError(
                f"analyzer must be 'word', 'char' or a callable, got {self.analyzer!r}"
            )
        if not isinstance(self.lowercase, (bool, np.bool_)):
            raise TypeError(f"lowercase must be a bool, got {self.lowercase!r}")
        if self.max_tokens is not None and (
            isinstance(self.max_tokens, bool)
            or not isinstance(self.max_tokens, numbers.Integral)
            or self.max_tokens < 3
        ):
            raise ValueError(f"max_tokens must be None or an int >= 3, got {self.max_tokens!r}")
        if (
            isinstance(self.min_frequency, bool)
            or not isinstance(self.min_frequency, numbers.Integral)
            or self.min_frequency < 1
        ):
            raise ValueError(f"min_frequency must be a positive int, got {self.min_frequency!r}")

    def _tokenized(self, X) -> list[list[str]]:
        """Tokens of every document; clear errors for what is not a non-empty string list."""
        if isinstance(X, (str, bytes)) or not hasattr(X, "__iter__"):
            raise TypeError(
                f"X must be a list (or array) of strings, got {type(X).__name__}; wrap a single "
                "string in a list"
            )
        documents = list(X.ravel() if isinstance(X, np.ndarray) else X)
        if not documents:
            raise ValueError("X is empty: TextSequencer needs at least one string")
        tokenized = []
        for i, text in enumerate(documents):
            if not isinstance(text, str):
                raise TypeError(f"X[{i}] must be a string, got {type(text).__name__}")
            tokens = self._tokens_of(text.lower() if self.lowercase else text)
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise TypeError(f"analyzer must return a list of strings, got {tokens!r:.60}")
            if not tokens:
                raise ValueError(f"X[{i}] has no tokens ({text!r:.40}): a sequence needs one")
            tokenized.append(tokens)
        return tokenized

    def _tokens_of(self, text: str):
        if self.analyzer == "word":
            return _WORD.findall(text)
        if self.analyzer == "char":
            return list(text)
        return self.analyzer(text)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        return tags
