"""The examples in the public docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "rnnfast.data.scaler",
    "rnnfast.data.text",
    "rnnfast.estimators.anomaly",
    "rnnfast.estimators.char_rnn",
    "rnnfast.estimators.classifier",
    "rnnfast.estimators.forecaster",
    "rnnfast.estimators.regressor",
    "rnnfast.estimators.tagger",
    "rnnfast.estimators.transcriber",
    "rnnfast.estimators.translator",
    "rnnfast.metrics",
    "rnnfast.nn.attention",
    "rnnfast.nn.ctc_decode",
    "rnnfast.nn.embedding",
    "rnnfast.nn.losses",
    "rnnfast.nn.recurrent",
    "rnnfast.nn.stream",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
