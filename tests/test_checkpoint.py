"""Checkpointing: a fit interrupted after a checkpoint and resumed from it ends bit-identical
to the uninterrupted fit: weights, optimizer moments, schedule, random streams, history."""

from __future__ import annotations

import numpy as np
import pytest

import rnnfast
from rnnfast.estimators import _base


class Interrupted(Exception):
    """Stands for a crash or Ctrl-C right after a checkpoint was written."""


def _interrupt_after(monkeypatch, checkpoints: int) -> None:
    written = []
    real_save = _base.save

    def save_then_stop(obj, path):
        real_save(obj, path)
        written.append(path)
        if len(written) == checkpoints:
            raise Interrupted

    monkeypatch.setattr(_base, "save", save_then_stop)


def load_checkpoint(path):
    """``rnnfast.load`` of a checkpoint: its checkpoint_path is cleared, with a warning."""
    with pytest.warns(UserWarning, match="checkpoint_path"):
        loaded = rnnfast.load(path)
    assert loaded.checkpoint_path is None
    return loaded


def _data(task: str):
    rng = np.random.default_rng(0)
    X = [rng.normal(size=(n, 2)).astype(np.float32) for n in rng.integers(4, 16, size=24)]
    if task == "classifier":
        return (X, np.array(["up" if s[:, 0].sum() > 0 else "down" for s in X])), "fit"
    if task == "tagger":
        return (X, [(s[:, 0] > 0).astype(int) for s in X]), "fit"
    if task == "regressor":
        return (X, np.array([s[:, 0].sum() for s in X])), "fit"
    if task == "forecaster":
        return (np.sin(np.arange(120) / 5.0) + 0.1 * rng.normal(size=120),), "fit_series"
    if task == "transcriber":
        return (X, ["ab"[int(s[0, 0] > 0)] + "ba"[int(s[-1, 1] > 0)] for s in X]), "fit"
    if task == "translator":
        words = ["".join(rng.choice(list("abcde"), rng.integers(2, 6))) for _ in range(24)]
        return (words, [w[::-1] for w in words]), "fit"
    if task == "token_classifier":
        tokens = [rng.integers(1, 9, rng.integers(3, 9)) for _ in range(24)]
        return (tokens, np.array([int(t[0] > 4) for t in tokens])), "fit"
    return ("the cat sat on the mat. " * 20,), "fit"


ESTIMATORS = {
    # early stopping (validation split, best weights), dropout, plateau schedule
    "classifier": lambda: rnnfast.RNNClassifier(
        num_layers=2, dropout=0.3, early_stopping=True, patience=50, lr_schedule="plateau"
    ),
    # truncated BPTT, AdamW, cosine schedule with warm-up
    "tagger": lambda: rnnfast.SequenceTagger(
        bidirectional=False,
        bptt_steps=5,
        optimizer="adamw",
        lr_schedule="cosine",
        warmup_epochs=2,
    ),
    # SGD with Nesterov momentum and a step schedule
    "regressor": lambda: rnnfast.RNNRegressor(
        cell="gru",
        optimizer="sgd",
        nesterov=True,
        lr_schedule="step",
        lr_schedule_params={"step_size": 2},
    ),
    "forecaster": lambda: rnnfast.RNNForecaster(window=12, horizon=2, optimizer="rmsprop"),
    "char_rnn": lambda: rnnfast.CharRNN(seq_length=16),
    # CTC, with early stopping on 1 - label error rate
    "transcriber": lambda: rnnfast.SequenceTranscriber(early_stopping=True, patience=50),
    # encoder-decoder with dropout between its 2 layers and early stopping
    "translator": lambda: rnnfast.SequenceTranslator(
        num_layers=2, dropout=0.2, embedding_dim=4, early_stopping=True, patience=50
    ),
    # token input (embedding) with attention pooling
    "token_classifier": lambda: rnnfast.RNNClassifier(embedding_dim=4, pooling="attention"),
}


def _make(task, **params):
    return ESTIMATORS[task]().set_params(
        hidden_size=6, batch_size=8, max_epochs=7, random_state=3, **params
    )


def assert_same_training(a, b) -> None:
    for name, value in a.network_.params.items():
        assert np.array_equal(value, b.network_.params[name]), name
    opt_a, opt_b = a._training_.optimizer, b._training_.optimizer
    assert opt_a.steps == opt_b.steps and opt_a.learning_rate == opt_b.learning_rate
    for name, moments in opt_a.state.items():
        for key, value in moments.items():
            assert np.array_equal(value, opt_b.state[name][key]), (name, key)
    assert a.loss_curve_ == b.loss_curve_
    assert a.validation_scores_ == b.validation_scores_
    assert a.best_epoch_ == b.best_epoch_
    assert a._training_.rng.bit_generator.state == b._training_.rng.bit_generator.state


@pytest.mark.parametrize("task", list(ESTIMATORS))
def test_resumed_fit_is_bit_identical_to_the_uninterrupted_one(tmp_path, monkeypatch, task):
    args, fit_method = _data(task)
    plain = getattr(_make(task), fit_method)(*args)
    checkpointed = getattr(
        _make(task, checkpoint_path=tmp_path / "full.ckpt", checkpoint_every=2), fit_method
    )(*args)
    assert_same_training(plain, checkpointed)  # writing checkpoints changes nothing

    path = tmp_path / "run.ckpt"
    _interrupt_after(monkeypatch, checkpoints=2)
    with pytest.raises(Interrupted):
        getattr(_make(task, checkpoint_path=path, checkpoint_every=2), fit_method)(*args)
    monkeypatch.undo()

    snapshot = load_checkpoint(path)
    assert snapshot.n_iter_ == 4  # the checkpoint of epoch 4, with its history published
    resumed = snapshot.resume(*args, fit_method=fit_method)
    assert resumed is snapshot
    assert_same_training(plain, resumed)
    assert resumed._training_.progress is None


def test_checkpoint_predicts_and_resumes_after_early_stopping(tmp_path):
    """The last checkpoint of a fit that stopped early resumes to the same best weights."""
    (X, y), _ = _data("classifier")
    path = tmp_path / "run.ckpt"
    est = rnnfast.RNNClassifier(
        hidden_size=6,
        max_epochs=40,
        early_stopping=True,
        patience=2,
        random_state=0,
        checkpoint_path=path,
    ).fit(X, y)
    assert est.n_iter_ < 40
    resumed = load_checkpoint(path).resume(X, y)
    assert_same_training(est, resumed)
    assert np.array_equal(resumed.predict_proba(X), est.predict_proba(X))


def test_resume_needs_the_same_data(tmp_path, monkeypatch):
    (X, y), _ = _data("classifier")
    path = tmp_path / "run.ckpt"
    _interrupt_after(monkeypatch, checkpoints=1)
    with pytest.raises(Interrupted):
        _make("classifier", checkpoint_path=path).fit(X, y)
    monkeypatch.undo()
    with pytest.raises(ValueError, match="same training data"):
        load_checkpoint(path).resume(X[:-1], y[:-1])
    with pytest.raises(ValueError, match="same training data"):
        load_checkpoint(path).resume(X, y, sample_weight=np.full(len(y), 2.0))
    with pytest.raises(ValueError, match="fit_method"):
        load_checkpoint(path).resume(X, y, fit_method="predict")


def test_resume_without_an_interrupted_fit(tmp_path):
    (X, y), _ = _data("classifier")
    fitted = _make("classifier").fit(X, y)
    with pytest.raises(ValueError, match="holds no interrupted fit"):
        fitted.resume(X, y)
    with pytest.raises(ValueError, match="holds no interrupted fit"):
        rnnfast.RNNClassifier().resume(X, y)


@pytest.mark.parametrize(
    "params, error",
    [
        ({"checkpoint_path": 3}, TypeError),
        ({"checkpoint_every": 0}, ValueError),
        ({"checkpoint_every": 1.5}, TypeError),
    ],
)
def test_checkpoint_parameter_errors(params, error):
    (X, y), _ = _data("classifier")
    with pytest.raises(error, match=next(iter(params))):
        rnnfast.RNNClassifier(max_epochs=1, **params).fit(X, y)


def test_a_loaded_file_never_makes_fit_write_where_it_says(tmp_path):
    """A file naming another file as its checkpoint_path cannot make fit overwrite it."""
    (X, y), _ = _data("classifier")
    victim = tmp_path / "precious.txt"
    victim.write_text("keep me")
    model = rnnfast.RNNClassifier(hidden_size=4, max_epochs=1, checkpoint_path=victim)
    model.set_params(checkpoint_path=None).fit(X, y)
    model.checkpoint_path = victim  # as a crafted file would hold it
    model.save(tmp_path / "crafted.rnnfast")
    loaded = load_checkpoint(tmp_path / "crafted.rnnfast")
    loaded.set_params(warm_start=True).fit(X, y)
    assert victim.read_text() == "keep me"
