"""``callbacks=[...]``: called at fit begin, every epoch and fit end with a read-only history,
able to stop training; the built-in early stopping, CSV logging and checkpointing."""

from __future__ import annotations

import csv
import dataclasses
import shutil
import warnings

import numpy as np
import pytest
from sklearn.base import clone

import rnnfast
from rnnfast.callbacks import Callback, Checkpoint, CSVLogger, EarlyStopping

rng = np.random.default_rng(0)
X = rng.standard_normal((80, 10, 2)).astype(np.float32)
y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
SMALL = dict(hidden_size=8, batch_size=16, random_state=0)


class Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_fit_begin(self, estimator, history):
        self.calls.append(("begin", history.epoch))

    def on_epoch_end(self, estimator, history):
        self.calls.append(("epoch", history))
        assert list(estimator.loss_curve_) == list(history.loss)  # attributes up to date

    def on_fit_end(self, estimator, history):
        self.calls.append(("end", history.epoch))


def test_hooks_run_in_order_with_a_read_only_history():
    recorder = Recorder()
    clf = rnnfast.RNNClassifier(max_epochs=3, callbacks=[recorder], **SMALL).fit(X, y)
    kinds = [call[0] for call in recorder.calls]
    assert kinds == ["begin", "epoch", "epoch", "epoch", "end"]
    records = [call[1] for call in recorder.calls if call[0] == "epoch"]
    assert [r.epoch for r in records] == [1, 2, 3]
    assert [r.stopping for r in records] == [False, False, True]
    assert records[-1].loss == tuple(clf.loss_curve_) and records[-1].epochs_planned == 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        records[-1].epoch = 7


def test_a_callback_stops_training_and_the_result_is_the_shorter_fit():
    never_better = EarlyStopping(monitor=lambda est: 1.0, patience=2)
    stopped = rnnfast.RNNClassifier(max_epochs=10, callbacks=[never_better], **SMALL).fit(X, y)
    assert stopped.n_iter_ == 3  # the first epoch sets the best, two more without improvement
    short = rnnfast.RNNClassifier(max_epochs=3, **SMALL).fit(X, y)
    np.testing.assert_array_equal(stopped.predict_proba(X), short.predict_proba(X))
    assert never_better.best_epoch_ == 1


def test_early_stopping_on_the_validation_score_and_on_the_loss():
    on_score = EarlyStopping(monitor="validation_score", patience=1)
    clf = rnnfast.RNNClassifier(
        max_epochs=30, early_stopping=True, patience=30, callbacks=[on_score], **SMALL
    ).fit(X, y)
    assert clf.n_iter_ < 30 and on_score.best_ == max(clf.validation_scores_)
    with pytest.raises(ValueError, match="needs early_stopping=True"):
        rnnfast.RNNClassifier(max_epochs=2, callbacks=[on_score], **SMALL).fit(X, y)
    on_loss = EarlyStopping(patience=3, min_delta=10.0)  # nothing improves by 10
    assert rnnfast.RNNClassifier(max_epochs=9, callbacks=[on_loss], **SMALL).fit(X, y).n_iter_ == 4


def test_csv_logger_writes_a_row_per_epoch(tmp_path):
    path = tmp_path / "log.csv"
    clf = rnnfast.RNNClassifier(
        max_epochs=3, early_stopping=True, callbacks=[CSVLogger(path)], **SMALL
    ).fit(X, y)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], clf.loss_curve_)
    np.testing.assert_allclose([float(r["validation_score"]) for r in rows], clf.validation_scores_)
    clf.set_params(callbacks=[CSVLogger(path, append=True)], warm_start=True).fit(X, y)
    with open(path, newline="") as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3, 4, 5, 6]


def test_checkpoint_callback_resumes_bit_identically(tmp_path):
    path, copy = tmp_path / "run.ckpt", tmp_path / "epoch2.ckpt"

    class KeepEpochTwo(Callback):
        def on_epoch_end(self, estimator, history):
            # checkpoints are written once every callback has seen the epoch (so that a stop
            # any of them asks for is in the file): during epoch 3 the file holds epoch 2
            if history.epoch == 3:
                shutil.copy(path, copy)

    params = dict(max_epochs=4, dropout=0.2, num_layers=2, **SMALL)
    full = rnnfast.RNNClassifier(**params, callbacks=[Checkpoint(path), KeepEpochTwo()])
    full.fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no checkpoint_path in the file: nothing to clear
        resumed = rnnfast.load(copy)
    assert resumed.callbacks is None and resumed.n_iter_ == 2
    resumed.resume(X, y)
    np.testing.assert_array_equal(resumed.predict_proba(X), full.predict_proba(X))
    assert rnnfast.load(path).n_iter_ == 4  # the last save is the finished fit


def test_checkpoint_every_and_at_the_end(tmp_path):
    path = tmp_path / "run.ckpt"
    seen = []

    class Watch(Callback):
        def on_epoch_end(self, estimator, history):
            seen.append(rnnfast.load(path).n_iter_ if path.exists() else None)

    model = rnnfast.RNNClassifier(
        max_epochs=5, callbacks=[Checkpoint(path, every=2), Watch()], **SMALL
    )
    model.fit(X, y)
    # each epoch's callbacks run before that epoch's checkpoint is written
    assert seen == [None, None, 2, 2, 4]
    assert rnnfast.load(path).n_iter_ == 5  # and the finished fit is saved at the end


def test_callbacks_are_not_saved_and_clone_keeps_them(tmp_path):
    recorder = Recorder()
    clf = rnnfast.RNNClassifier(max_epochs=1, callbacks=[recorder], **SMALL).fit(X, y)
    clf.save(tmp_path / "model")  # a callback of the user's class: not written, no error
    assert rnnfast.load(tmp_path / "model").callbacks is None
    assert isinstance(clone(clf).get_params()["callbacks"][0], Recorder)


@pytest.mark.parametrize(
    ("callbacks", "match"),
    [
        (EarlyStopping(), "callbacks must be a list"),
        ([object()], r"callbacks\[0\] \(object\) must have on_fit_begin"),
    ],
)
def test_bad_callbacks_are_refused(callbacks, match):
    with pytest.raises(TypeError, match=match):
        rnnfast.RNNClassifier(max_epochs=1, callbacks=callbacks, **SMALL).fit(X, y)


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: EarlyStopping(monitor="accuracy"), ValueError, "monitor must be"),
        (lambda: EarlyStopping(patience=0), ValueError, "patience must be"),
        (lambda: EarlyStopping(mode="up"), ValueError, "mode must be"),
        (lambda: EarlyStopping(min_delta=-1), ValueError, "min_delta must be"),
        (lambda: CSVLogger(3), TypeError, "path must be"),
        (lambda: Checkpoint("x", every=0), ValueError, "every must be"),
    ],
)
def test_bad_callback_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()
