"""SequenceTranslator: dates in human formats to ISO with defaults, integer sequences, word
tokens, beam search, persistence, and clear errors for bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest

import rnnfast
from rnnfast import SequenceTranslator
from rnnfast.datasets import make_dates

WORDS = ["abc", "hello", "rnn", "fast", "seq", "model", "token", "data"] * 25
REVERSED = [w[::-1] for w in WORDS]


@pytest.fixture(scope="module")
def reverser():
    return SequenceTranslator(hidden_size=32, max_epochs=25, random_state=0).fit(WORDS, REVERSED)


@pytest.mark.slow
def test_dates_to_iso_with_defaults():
    """The issue's bar: >= 90% exact match on unseen inputs with defaults (measured 99.8%
    on 498 unseen dates, 77 s on 2 cores)."""
    sources, targets = make_dates(2000, random_state=0)
    test_sources, test_targets = make_dates(500, random_state=1)
    seen = set(sources)
    unseen = [(s, t) for s, t in zip(test_sources, test_targets, strict=True) if s not in seen]
    model = SequenceTranslator(random_state=0).fit(sources, targets)
    accuracy = model.score([s for s, _ in unseen], [t for _, t in unseen])
    assert accuracy >= 0.9, accuracy


def test_strings_in_strings_out_and_beam(reverser):
    assert reverser.predict(["data", "model"]) == ["atad", "ledom"]
    assert reverser.predict(["data", "model"], beam_size=3) == ["atad", "ledom"]
    assert reverser.score(WORDS[:8], REVERSED[:8]) == 1.0
    assert reverser.score(WORDS[:2], ["wrong", REVERSED[1]]) == 0.5


def test_integer_sequences_in_integer_sequences_out():
    rng = np.random.default_rng(0)
    sources = [rng.integers(0, 9, rng.integers(2, 6)) for _ in range(300)]
    targets = [s[::-1] for s in sources]
    model = SequenceTranslator(hidden_size=32, max_epochs=30, random_state=0)
    model.fit(sources, targets)
    predicted = model.predict(sources[:20])
    assert all(p.dtype == np.int64 for p in predicted)
    same = [np.array_equal(p, t) for p, t in zip(predicted, targets[:20], strict=True)]
    assert np.mean(same) >= 0.9


def test_word_tokens():
    sources = ["one two", "two three", "three one", "one one"] * 30
    targets = ["eins zwei", "zwei drei", "drei eins", "eins eins"] * 30
    model = SequenceTranslator(analyzer="word", hidden_size=16, max_epochs=30, random_state=0)
    assert model.fit(sources, targets).predict(["two three"]) == ["zwei drei"]


def test_unseen_source_tokens_do_not_fail(reverser):
    assert isinstance(reverser.predict(["xyz"])[0], str)


def test_save_and_load_predict_the_same(reverser):
    buffer = io.BytesIO()
    reverser.save(buffer)
    buffer.seek(0)
    loaded = rnnfast.load(buffer)
    assert loaded.predict(WORDS[:8], beam_size=2) == reverser.predict(WORDS[:8], beam_size=2)


@pytest.mark.parametrize(
    "X, y, error, match",
    [
        ([], [], ValueError, "X is empty"),
        (["ab", ""], ["ba", "x"], ValueError, r"X\[1\] is an empty string"),
        (["ab", "cd"], ["ba", ""], ValueError, r"y\[1\] is an empty string"),
        (["ab", 3], ["ba", "dc"], TypeError, "only strings or only integer sequences"),
        (["ab"], ["ba", "dc"], ValueError, "X has 1 sources but y has 2 targets"),
        ([np.array([1, -2])], [np.array([1])], ValueError, r"X\[0\] holds negative ids"),
        (["ab", "cd"], np.array([0.5, 1.5]), TypeError, r"y\[0\] must be a string or"),
        (["ab", "cd"], "ba", TypeError, "y must be a list"),
    ],
)
def test_bad_input(X, y, error, match):
    with pytest.raises(error, match=match):
        SequenceTranslator(max_epochs=1).fit(X, y)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(attention="dot"), "attention must be one of"),
        (dict(bidirectional=False), "bidirectional must be True"),
        (dict(beam_size=0), "beam_size must be a positive integer"),
        (dict(bptt_steps=5), "bptt_steps"),
        (dict(analyzer="bigram"), "analyzer"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        SequenceTranslator(max_epochs=1, **params).fit(["ab"], ["ba"])


def test_bad_predict_arguments(reverser):
    with pytest.raises(ValueError, match="beam_size must be a positive integer"):
        reverser.predict(["abc"], beam_size=0)
    with pytest.raises(ValueError, match="max_length must be a positive integer"):
        reverser.predict(["abc"], max_length=0)
    with pytest.raises(TypeError, match="must hold strings, as in fit"):
        reverser.predict([np.array([1, 2])])


def test_chrf():
    from rnnfast.metrics import chrf

    assert chrf(["Arabisch"], ["Arabisch"]) == 100.0
    assert chrf(["abc"], ["xyz"]) == 0.0
    # unigrams: P = 2/3, R = 1 -> F2 = 10/11; bigrams: P = 1/2, R = 1 -> 5/6; trigrams: 0
    assert chrf(["ab"], ["abc"]) == pytest.approx(100 * (10 / 11 + 5 / 6 + 0) / 3)
    assert chrf(["a b"], ["ab"]) == 100.0  # whitespace is ignored
    with pytest.raises(ValueError, match="differ in length"):
        chrf(["a"], [])
    with pytest.raises(TypeError, match="strings"):
        chrf([1], ["a"])


def test_cldr_names_are_a_parallel_corpus():
    pytest.importorskip("babel")
    from rnnfast.datasets import load_cldr_names

    names = load_cldr_names("en", "de")
    assert len(names.data) == len(names.target) == len(names.kind) > 1000
    pairs = dict(zip(names.data, names.target, strict=False))
    assert pairs["Arabic"] == "Arabisch" and pairs["South America"] == "Südamerika"


def test_continuing_a_fit_refuses_target_tokens_it_never_saw(reverser):
    continued = SequenceTranslator(hidden_size=4, max_epochs=1, warm_start=True).fit(
        WORDS[:8], REVERSED[:8]
    )
    with pytest.raises(ValueError, match="tokens the first fit never saw"):
        continued.fit(["abc"], ["xyz"])
    ids = SequenceTranslator(hidden_size=4, max_epochs=1, warm_start=True)
    ids.fit([np.array([1, 2])] * 4, [np.array([2, 1])] * 4)
    with pytest.raises(ValueError, match="ids the first fit never saw"):
        ids.fit([np.array([1, 2])], [np.array([7])])
