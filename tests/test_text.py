"""TextSequencer: raw strings to ordered token ids, reserved ids, vocabulary limits, errors,
inverse transform, pipelines and save/load."""

from __future__ import annotations

import io

import numpy as np
import pytest

import rnnfast
from rnnfast import TextSequencer
from rnnfast.data.text import OOV_ID, PADDING_ID

CORPUS = ["The film was not good.", "A good, good film!", "I don't like it", "not bad at all"]


def test_word_tokens_keep_order_punctuation_and_contractions():
    seq = TextSequencer().fit(CORPUS)
    tokens = seq.inverse_transform(seq.transform(["Not good, I don't think."]))
    assert tokens == [["not", "good", ",", "i", "don't", "[UNK]", "."]]


def test_reserved_ids_and_frequency_order():
    seq = TextSequencer().fit(CORPUS)
    ids = np.concatenate(seq.transform(CORPUS))
    assert PADDING_ID not in ids and OOV_ID not in ids  # every fitted token is known
    assert seq.vocabulary_["good"] == 2  # the most frequent token (3 times) comes first
    assert sorted(seq.vocabulary_.values()) == list(range(2, seq.n_tokens_))
    names = seq.get_feature_names_out()
    assert names[0] == "[PAD]" and names[1] == "[UNK]" and names[2] == "good"


def test_unseen_tokens_map_to_the_oov_id():
    seq = TextSequencer().fit(CORPUS)
    assert seq.transform(["zebra quokka"])[0].tolist() == [OOV_ID, OOV_ID]


def test_max_tokens_and_min_frequency():
    seq = TextSequencer(max_tokens=4).fit(CORPUS)
    assert seq.n_tokens_ == 4 and set(seq.vocabulary_) == {"good", "film"}
    rare = TextSequencer(min_frequency=2).fit(CORPUS)
    assert set(rare.vocabulary_) == {"good", "film", "not"}


def test_char_and_callable_analyzers():
    chars = TextSequencer(analyzer="char", lowercase=False).fit(["abca"])
    assert chars.inverse_transform(chars.transform(["cab"])) == [["c", "a", "b"]]
    split = TextSequencer(analyzer=str.split).fit(["x y", "y z"])
    assert split.transform(["z  y"])[0].tolist() == [split.vocabulary_["z"], 2]


def test_inverse_transform_takes_padded_arrays():
    seq = TextSequencer().fit(CORPUS)
    padded = np.zeros((1, 6), np.int64)
    padded[0, :2] = seq.transform(["not good"])[0]
    assert seq.inverse_transform(padded) == [["not", "good"]]


@pytest.mark.parametrize(
    "X, error, match",
    [
        ([], ValueError, "X is empty"),
        ("a single string", TypeError, "wrap a single string in a list"),
        (["fine", 3], TypeError, r"X\[1\] must be a string, got int"),
        (["fine", ""], ValueError, r"X\[1\] has no tokens"),
        (["fine", "  "], ValueError, r"X\[1\] has no tokens"),
        ([b"bytes"], TypeError, r"X\[0\] must be a string"),
        (None, TypeError, "X must be a list"),
    ],
)
def test_bad_input(X, error, match):
    with pytest.raises(error, match=match):
        TextSequencer().fit(X)


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(analyzer="bigram"), "analyzer"),
        (dict(max_tokens=2), "max_tokens"),
        (dict(min_frequency=0), "min_frequency"),
        (dict(lowercase="yes"), "lowercase"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises((ValueError, TypeError), match=match):
        TextSequencer(**params).fit(CORPUS)


def test_bad_ids_for_inverse_transform():
    seq = TextSequencer().fit(CORPUS)
    with pytest.raises(ValueError, match="outside"):
        seq.inverse_transform([np.array([99])])
    with pytest.raises(TypeError, match="integer ids"):
        seq.inverse_transform([np.array([1.5])])


def test_save_and_load():
    seq = TextSequencer(max_tokens=6).fit(CORPUS)
    buffer = io.BytesIO()
    seq.save(buffer)
    buffer.seek(0)
    loaded = rnnfast.load(buffer)
    for got, want in zip(loaded.transform(CORPUS), seq.transform(CORPUS), strict=True):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(TypeError, match=r"obj.analyzer: cannot save"):  # pickle it instead
        TextSequencer(analyzer=str.split).fit(CORPUS).save(io.BytesIO())


def test_chatterbot_topics_are_a_text_classification_set():
    pytest.importorskip("chatterbot_corpus")
    pytest.importorskip("yaml")
    from rnnfast.datasets import load_chatterbot_topics

    corpus = load_chatterbot_topics()
    assert len(corpus.data) == len(corpus.target) > 1500
    assert {"trivia", "emotion", "coding"} <= set(corpus.target)
    assert all(isinstance(t, str) and t.strip() for t in corpus.data)
    counts = {t: corpus.target.count(t) for t in set(corpus.target)}
    assert min(counts.values()) >= 20
