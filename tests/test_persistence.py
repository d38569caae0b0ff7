"""rnnfast.save / rnnfast.load: exact round trips of every estimator, the scaler and the nn
modules; clear errors for truncated, corrupted, foreign and newer files; no code from a file."""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import joblib
import numpy as np
import pytest

import rnnfast
from rnnfast import nn
from rnnfast.persistence import FORMAT_VERSION, ModelFileError

RNG = np.random.default_rng(0)
X = RNG.standard_normal((40, 9, 2)).astype(np.float32)
LABELS = (X[:, :, 0].sum(axis=1) > 0).astype(int)
RAGGED = [X[i, : 3 + i % 6] for i in range(12)]
FAST = dict(max_epochs=3, hidden_size=8, random_state=0)


def fitted(name):
    """A fitted estimator (with dropout, early stopping, two layers where it matters), its
    prediction method and its inputs."""
    if name == "classifier":  # string labels held in an object array, shared rngs, dropout
        est = rnnfast.RNNClassifier(num_layers=2, dropout=0.2, early_stopping=True, **FAST)
        return est.fit(X, np.array(["neg", "pos"], dtype=object)[LABELS]), "predict_proba", X
    if name == "classifier_ragged":
        est = rnnfast.RNNClassifier(cell="gru", class_weight={0: 1.0, 1: 3.0}, **FAST)
        return est.fit(RAGGED, LABELS[:12]), "predict_proba", RAGGED
    if name == "regressor":
        est = rnnfast.RNNRegressor(cell="rnn", bidirectional=True, optimizer="sgd", **FAST)
        return est.fit(X, X[:, :3, 1]), "predict", X
    if name == "tagger":
        est = rnnfast.SequenceTagger(lr_schedule="plateau", **FAST)
        return est.fit(X, (X[:, :, 0] > 0).astype(int)), "predict_proba", X
    if name == "forecaster":
        est = rnnfast.RNNForecaster(window=10, horizon=2, **FAST)
        return est.fit_series(np.sin(np.arange(200) / 4)), "predict", X[:, :, :1]
    if name == "anomaly_forecast":
        est = rnnfast.RNNAnomalyDetector(**FAST)
        return est.fit(X), "score_samples", X
    if name == "anomaly_reconstruction":
        est = rnnfast.RNNAnomalyDetector(method="reconstruction", contamination=0.1, **FAST)
        return est.fit(X), "score_samples", X
    if name == "char_rnn":
        est = rnnfast.CharRNN(seq_length=16, max_epochs=2, hidden_size=16, random_state=0)
        return (
            est.fit("the quick brown fox jumps over the lazy dog. " * 8),
            "bits_per_char",
            ("the lazy fox"),
        )
    if name == "scaler":
        return rnnfast.SequenceScaler().fit(RAGGED), "transform", RAGGED
    raise AssertionError(name)


ESTIMATORS = [
    "classifier",
    "classifier_ragged",
    "regressor",
    "tagger",
    "forecaster",
    "anomaly_forecast",
    "anomaly_reconstruction",
    "char_rnn",
    "scaler",
]


def roundtrip(obj):
    buffer = io.BytesIO()
    rnnfast.save(obj, buffer)
    buffer.seek(0)
    return rnnfast.load(buffer)


def assert_identical(a, b):
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_identical(x, y)
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.array_equal(a, b)  # bit for bit (no NaN here)


@pytest.mark.parametrize("name", ESTIMATORS)
def test_estimator_roundtrip_predicts_bit_for_bit(name, tmp_path):
    est, method, inputs = fitted(name)
    path = tmp_path / "model.rnnfast"
    est.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["model.rnnfast"]  # no suffix, no temp left
    loaded = rnnfast.load(path)
    assert type(loaded) is type(est)
    assert repr(loaded.get_params()) == repr(est.get_params())
    assert_identical(getattr(loaded, method)(inputs), getattr(est, method)(inputs))
    if hasattr(est, "predict"):
        assert_identical(loaded.predict(inputs), est.predict(inputs))
    if name == "char_rnn":
        assert loaded.generate("the", 30, random_state=5) == est.generate("the", 30, random_state=5)


@pytest.mark.parametrize("name", ["classifier", "regressor", "tagger"])
def test_training_continues_identically_after_load(name):
    """Optimizer state, schedule, shared weight arrays and random streams survive the trip."""
    est, method, inputs = fitted(name)
    loaded = roundtrip(est)
    assert loaded._training_.optimizer.params is loaded.network_.params
    assert loaded.network_._rng is loaded._training_.rng
    y = {"classifier": np.array(["neg", "pos"], dtype=object)[LABELS], "regressor": X[:, :3, 1]}
    y = y.get(name, (X[:, :, 0] > 0).astype(int))
    est.partial_fit(X, y)
    loaded.partial_fit(X, y)
    assert_identical(getattr(loaded, method)(inputs), getattr(est, method)(inputs))


def test_unfitted_estimator_roundtrip():
    est = rnnfast.RNNRegressor(hidden_size=7, lr_schedule_params={"gamma": 0.5}, random_state=3)
    loaded = roundtrip(est)
    assert loaded.get_params() == est.get_params()
    assert not hasattr(loaded, "network_")


@pytest.mark.parametrize(
    "random_state", [None, 7, np.random.RandomState(2), np.random.default_rng(4)], ids=repr
)
def test_random_state_objects_roundtrip(random_state):
    est = rnnfast.RNNClassifier(random_state=random_state, max_epochs=1, hidden_size=4)
    loaded = roundtrip(est)
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        a, b = est.random_state, loaded.random_state
        draw = (
            (lambda r: r.random(5))
            if isinstance(a, np.random.Generator)
            else (lambda r: r.random_sample(5))
        )
        assert np.array_equal(draw(a), draw(b))
    else:
        assert loaded.random_state == random_state


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nn_modules_roundtrip(dtype):
    x = RNG.standard_normal((3, 5, 4)).astype(dtype)
    lengths = np.array([5, 2, 4])
    modules = [
        nn.LSTM(4, 6, num_layers=2, bidirectional=True, dtype=dtype, random_state=0),
        nn.GRU(4, 6, dtype=dtype, random_state=1),
        nn.RNN(4, 6, nonlinearity="relu", dtype=dtype, random_state=2),
        nn.SequenceNetwork("gru", 4, 6, 3, per_step=True, dtype=dtype, random_state=3),
        nn.SequenceAutoencoder("lstm", 4, 6, dtype=dtype, random_state=4),
    ]
    for module in modules:
        expected = module.forward(x, lengths, training=True)  # leaves a cache, not saved
        loaded = roundtrip(module)
        assert_identical(
            _first(loaded.forward(x, lengths, training=False)),
            _first(module.forward(x, lengths, training=False)),
        )
        assert _first(expected) is not None
    linear = nn.Linear(4, 2, dtype, random_state=0)
    assert_identical(roundtrip(linear).forward(x, training=False), linear.forward(x, False))


def _first(result):
    return result[0] if isinstance(result, tuple) else result


def test_loaded_module_needs_a_forward_before_backward():
    module = nn.LSTM(2, 3, random_state=0)
    module.forward(X[:2, :, :2])
    with pytest.raises(nn.NoForwardCacheError):
        roundtrip(module).backward(np.ones((2, 9, 3), np.float32))


def test_pickle_and_joblib_still_work(tmp_path):
    est, method, inputs = fitted("classifier")
    assert_identical(getattr(pickle.loads(pickle.dumps(est)), method)(inputs), est.predict_proba(X))
    joblib.dump(est, tmp_path / "m.joblib")
    assert_identical(joblib.load(tmp_path / "m.joblib").predict(inputs), est.predict(inputs))


def test_file_is_arrays_plus_json_description(tmp_path):
    est, _, _ = fitted("regressor")
    est.save(tmp_path / "m")
    with zipfile.ZipFile(tmp_path / "m") as archive:
        names = archive.namelist()
    assert "__rnnfast__.npy" in names
    with np.load(tmp_path / "m", allow_pickle=False) as archive:  # no pickle needed
        header = json.loads(archive["__rnnfast__"].tobytes())
        arrays = [archive[n] for n in archive.files]
    assert header["format"] == "rnnfast" and header["format_version"] == FORMAT_VERSION
    assert header["root"]["$object"] == "RNNRegressor"
    assert all(a.dtype != object for a in arrays)


# ------------------------------------------------------------------------------ bad files
def saved_bytes() -> bytes:
    buffer = io.BytesIO()
    fitted("classifier")[0].save(buffer)
    return buffer.getvalue()


def rewrite(data: bytes, edit_header=None, extra: dict | None = None) -> bytes:
    """The archive with its JSON header edited and/or members added."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        members = {n: archive[n] for n in archive.files}
    header = json.loads(members["__rnnfast__"].tobytes())
    if edit_header:
        edit_header(header)
    members["__rnnfast__"] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    out = io.BytesIO()
    np.savez(out, **members, **(extra or {}))
    return out.getvalue()


def load_bytes(data: bytes):
    return rnnfast.load(io.BytesIO(data))


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.99])
def test_truncated_file(keep):
    data = saved_bytes()
    with pytest.raises(ModelFileError, match="not a readable rnnfast model file"):
        load_bytes(data[: int(len(data) * keep)])


def test_corrupted_array_bytes_fail_the_checksum():
    data = bytearray(saved_bytes())
    data[len(data) // 2] ^= 0xFF  # inside some array's data
    with pytest.raises(ModelFileError):
        load_bytes(bytes(data))


def test_newer_format_version_is_refused_with_advice():
    data = rewrite(saved_bytes(), lambda h: h.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(ModelFileError, match="upgrade rnnfast"):
        load_bytes(data)


@pytest.mark.parametrize("version", [0, "1", None])
def test_invalid_format_version(version):
    with pytest.raises(ModelFileError, match="format_version"):
        load_bytes(rewrite(saved_bytes(), lambda h: h.update(format_version=version)))


def test_foreign_files():
    with pytest.raises(ModelFileError):
        load_bytes(b"definitely not a model")
    plain = io.BytesIO()
    np.savez(plain, weights=np.ones(3))
    with pytest.raises(ModelFileError, match="no __rnnfast__"):
        load_bytes(plain.getvalue())
    with pytest.raises(ModelFileError, match="not an rnnfast model file"):
        load_bytes(rewrite(saved_bytes(), lambda h: h.update(format="other")))
    with pytest.raises(FileNotFoundError):
        rnnfast.load("/nonexistent/model.rnnfast")


def test_wrong_parameter_shape_is_refused(tmp_path):
    net = nn.SequenceNetwork("lstm", 2, 3, 1, random_state=0)
    buffer = io.BytesIO()
    net.save(buffer)
    with np.load(io.BytesIO(buffer.getvalue()), allow_pickle=False) as archive:
        members = {n: archive[n] for n in archive.files}
    # shrink every 2-D array (the weights): the C++ core must never see them
    members = {k: (v[:, :1] if v.ndim == 2 else v) for k, v in members.items()}
    out = io.BytesIO()
    np.savez(out, **members)
    with pytest.raises(ModelFileError, match="should be a float32 array of shape"):
        load_bytes(out.getvalue())


def test_loading_never_runs_code_from_the_file(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    # a pickled object smuggled in as an array member
    payload = np.array([Exploit()], dtype=object)
    data = rewrite(saved_bytes(), extra={"a0evil": payload})
    with pytest.raises(ModelFileError):
        load_bytes(data)
    # a description naming a class outside rnnfast's own
    for name in ("Exploit", "os.system", "__builtins__"):
        crafted = rewrite(saved_bytes(), lambda h, n=name: h["root"].update({"$object": n}))
        with pytest.raises(ModelFileError, match="unknown class"):
            load_bytes(crafted)
    # a pickle referenced by a node
    crafted = rewrite(
        saved_bytes(),
        lambda h: h["root"]["attributes"].update(cell={"$array": "a0evil"}),
        extra={"a0evil": payload},
    )
    with pytest.raises(ModelFileError):
        load_bytes(crafted)
    assert not marker.exists()


@pytest.mark.parametrize(
    "edit",
    [
        lambda h: h["root"].update({"$ref": 99}),
        lambda h: h["root"]["attributes"].update(cell={"$unknown": 1}),
        lambda h: h["root"]["attributes"].update(cell={"$array": "missing"}),
        lambda h: h["root"]["attributes"].update(cell={"$scalar": "O", "value": 1}),
        lambda h: h["root"]["attributes"].update(cell={"$generator": "Evil", "state": {}}),
        lambda h: h["root"].update(attributes=[1, 2]),
        lambda h: h["root"].pop("$id"),
    ],
    ids=[
        "two-tags",
        "unknown-tag",
        "missing-array",
        "object-scalar",
        "bit-generator",
        "attrs",
        "no-id",
    ],
)
def test_malformed_description(edit):
    with pytest.raises(ModelFileError):
        load_bytes(rewrite(saved_bytes(), edit))


def test_save_refuses_what_the_format_cannot_describe():
    with pytest.raises(TypeError, match="rnnfast estimator, SequenceScaler or nn module"):
        rnnfast.save(object(), io.BytesIO())
    est = rnnfast.RNNClassifier(lr_schedule_params={"callback": print})
    with pytest.raises(TypeError, match=r"obj.lr_schedule_params\['callback'\]"):
        est.save(io.BytesIO())


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_saved_files_honour_the_umask(tmp_path, umask):
    """As numpy's and torch's saves: mode 0666 less the umask (was always 0600)."""
    import os

    previous = os.umask(umask)
    try:
        nn.GRU(2, 3, random_state=0).save(tmp_path / "new.rnnfast")
    finally:
        os.umask(previous)
    assert (tmp_path / "new.rnnfast").stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_replaced_file_keeps_its_mode(tmp_path):
    target = tmp_path / "model.rnnfast"
    nn.GRU(2, 3, random_state=0).save(target)
    target.chmod(0o640)
    nn.GRU(2, 3, random_state=1).save(target)
    assert target.stat().st_mode & 0o777 == 0o640


def test_temporaries_of_dead_writers_are_removed(tmp_path):
    import os
    import subprocess
    import sys
    import time

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(dead.stdout)  # a process that has ended
    old = time.time() - 3600
    stale = tmp_path / f".rnnfast-{dead_pid}-abcd1234.tmp"
    fresh = tmp_path / f".rnnfast-{dead_pid}-fresh000.tmp"  # a minute has not passed yet
    alive = tmp_path / f".rnnfast-{os.getpid()}-efgh5678.tmp"  # its writer runs: this process
    unrelated = tmp_path / ".rnnfast-notes.txt"
    for path in (stale, fresh, alive, unrelated):
        path.write_bytes(b"partial")
    for path in (stale, alive, unrelated):
        os.utime(path, (old, old))
    nn.GRU(2, 3, random_state=0).save(tmp_path / "model.rnnfast")
    assert not stale.exists()
    assert fresh.exists() and alive.exists() and unrelated.exists()
    leftovers = {p.name for p in tmp_path.iterdir()} - {fresh.name, alive.name, unrelated.name}
    assert leftovers == {"model.rnnfast"}  # and the save's own temporary is gone


def _raw_header(data: bytes, text: str) -> bytes:
    """The archive with its JSON description replaced by ``text`` verbatim."""
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        members = {n: archive[n] for n in archive.files}
    members["__rnnfast__"] = np.frombuffer(text.encode(), np.uint8)
    out = io.BytesIO()
    np.savez(out, **members)
    return out.getvalue()


def _with_raw_member(data: bytes, name: str, payload: bytes) -> bytes:
    """The archive plus a member written as raw bytes (not an .npy array)."""
    out = io.BytesIO(data)
    with zipfile.ZipFile(out, "a") as archive:
        archive.writestr(name, payload)
    return out.getvalue()


def _header_text(data: bytes) -> str:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return archive["__rnnfast__"].tobytes().decode()


@pytest.mark.parametrize(
    "make",
    [
        # a 5,000-digit integer: json's own limit raises a plain ValueError
        lambda d: _raw_header(
            d, _header_text(d).replace('"root"', '"x":' + "9" * 5000 + ',"root"', 1)
        ),
        # numbers past a scalar's range: OverflowError
        lambda d: rewrite(d, lambda h: h.update(root={"$scalar": "<i8", "value": 2**300})),
        lambda d: rewrite(d, lambda h: h.update(root={"$scalar": "<i8", "value": 1e300})),
        # a description member stored as raw bytes, not an .npy array (AttributeError)
        lambda d: _with_raw_member(d, "a999", b"not an array"),
        # a plain .npy file instead of an archive (TypeError)
        lambda d: _npy_bytes(),
    ],
    ids=["5000-digit-int", "int-overflow", "float-to-int-overflow", "raw-member", "plain-npy"],
)
def test_malformed_numbers_and_members_are_model_file_errors(make):
    with pytest.raises(ModelFileError):
        load_bytes(make(saved_bytes()))


def _npy_bytes() -> bytes:
    out = io.BytesIO()
    np.save(out, np.arange(10))
    return out.getvalue()


def test_umask_is_read_without_proc(tmp_path, monkeypatch):
    """Where /proc/self/status is missing, the umask is read by setting and restoring it."""
    import os

    from rnnfast import persistence

    def no_proc(*args, **kwargs):
        raise OSError("no /proc here")

    previous = os.umask(0o027)
    try:
        monkeypatch.setattr(persistence, "open", no_proc, raising=False)
        nn.GRU(2, 3, random_state=0).save(tmp_path / "m.rnnfast")
        assert os.umask(0o027) == 0o027  # left as it was
    finally:
        os.umask(previous)
    assert (tmp_path / "m.rnnfast").stat().st_mode & 0o777 == 0o640
