"""Fuzzing rnnfast.load: mutated model files must load correctly or raise ModelFileError.

Run as ``python tests/loader_fuzz.py N SEED``; prints one JSON line: how many files of each
mutation kind loaded or were refused, every other outcome (an exception of another type, or a
loaded model whose prediction fails or is not finite), and the peak RSS growth over the run in
MB. ``tests/test_loader_fuzz.py`` runs it in a fresh process, so the peak is the loader's.
"""

from __future__ import annotations

import io
import json
import resource
import sys
import warnings
import zipfile

import numpy as np

import rnnfast
from rnnfast.persistence import ModelFileError

X = np.random.default_rng(0).standard_normal((16, 5, 2)).astype(np.float32)


def originals() -> dict[str, bytes]:
    """Small saved models of different kinds (one with optimizer state, one module)."""
    labels = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    models = {
        "classifier": rnnfast.RNNClassifier(
            hidden_size=3, max_epochs=1, num_layers=2, random_state=0
        ).fit(X, np.array(["a", "b"])[labels]),
        "regressor": rnnfast.RNNRegressor(
            cell="gru", hidden_size=3, max_epochs=1, random_state=0
        ).fit(X, X[:, :2, 0]),
        "module": rnnfast.nn.SequenceNetwork("rnn", 2, 3, 2, random_state=0),
    }
    out = {}
    for name, model in models.items():
        buffer = io.BytesIO()
        model.save(buffer)
        out[name] = buffer.getvalue()
    return out


def check_loaded(model) -> None:
    """What a correct load means: the model predicts finite values of the right shape."""
    if isinstance(model, rnnfast.nn.SequenceNetwork):
        result = model.forward(X[:4, :, : model.input_size], training=False)
        assert result.shape == (4, model.output_size)
    elif isinstance(model, rnnfast.RNNClassifier):
        result = model.predict_proba(X[:, :, : model.n_features_in_])
        assert result.shape == (len(X), len(model.classes_))
        model.predict(X[:, :, : model.n_features_in_])
    else:
        result = model.predict(X[:, :, : model.n_features_in_])
        assert len(result) == len(X)
    assert np.isfinite(result).all()


# ---------------------------------------------------------------------------- mutations
def bit_flips(data: bytes, rng) -> bytes:
    mutated = bytearray(data)
    for _ in range(rng.integers(1, 9)):
        position = rng.integers(len(mutated))
        mutated[position] ^= 1 << rng.integers(8)
    return bytes(mutated)


def truncation(data: bytes, rng) -> bytes:
    return data[: rng.integers(len(data))]


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _archive(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, raw in members.items():
            archive.writestr(name, raw)
    return out.getvalue()


_VALUES = [None, True, -1, 0, 1, 7, 2**31, 10**12, 0.5, 4.0, -1e30, "x", "", [], {}, [1, 2]]
_VALUES += [{"$ref": 0}, {"$float": "nan"}, {"$array": "a0", "object": False}, {"$dtype": "<f8"}]


def header_edit(data: bytes, rng) -> bytes:
    """Replace, delete or move one node of the JSON description."""
    members = _members(data)
    raw = members["__rnnfast__.npy"]
    offset = len(raw) - int(np.load(io.BytesIO(raw)).size)
    header = json.loads(raw[offset:])
    places = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                places.append((node, key))
                walk(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                places.append((node, index))
                walk(value)

    walk(header["root"])
    container, key = places[rng.integers(len(places))]
    action = rng.integers(3)
    if action == 0 and isinstance(container, dict):
        del container[key]
    elif action == 1:  # another node of the same file
        donor, donor_key = places[rng.integers(len(places))]
        container[key] = json.loads(json.dumps(donor[donor_key]))
    else:
        container[key] = _VALUES[rng.integers(len(_VALUES))]
    text = np.frombuffer(json.dumps(header).encode(), np.uint8)
    buffer = io.BytesIO()
    np.save(buffer, text)
    members["__rnnfast__.npy"] = buffer.getvalue()
    return _archive(members)


def member_swap(data: bytes, rng) -> bytes:
    members = _members(data)
    names = sorted(n for n in members if n != "__rnnfast__.npy")
    first, second = rng.choice(len(names), 2, replace=False)
    a, b = names[first], names[second]
    members[a], members[b] = members[b], members[a]
    return _archive(members)


def size_claim(data: bytes, rng) -> bytes:
    """A member whose .npy header claims another shape (often huge), or a central directory
    entry that claims another uncompressed size."""
    members = _members(data)
    names = sorted(members)
    name = names[rng.integers(len(names))]
    if rng.integers(2):
        array = np.load(io.BytesIO(members[name]))
        dims = int(rng.integers(0, 4))
        shape = tuple(int(10 ** rng.uniform(0, 13)) for _ in range(dims))
        head = io.BytesIO()
        header = {"descr": array.dtype.str, "fortran_order": False, "shape": shape}
        np.lib.format.write_array_header_1_0(head, header)
        members[name] = head.getvalue() + array.tobytes()
        return _archive(members)
    mutated = bytearray(data)
    entry = data.find(b"PK\x01\x02")
    for _ in range(rng.integers(len(names))):
        fields = (data[entry + i : entry + i + 2] for i in (28, 30, 32))
        entry += 46 + sum(int.from_bytes(f, "little") for f in fields)
    claim = int(10 ** rng.uniform(0, 9.6))
    mutated[entry + 24 : entry + 28] = claim.to_bytes(4, "little")
    return bytes(mutated)


MUTATIONS = {
    "bit_flips": bit_flips,
    "truncation": truncation,
    "header_edit": header_edit,
    "member_swap": member_swap,
    "size_claim": size_claim,
}


def run(count: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    files = originals()
    for data in files.values():  # warm up: imports, first allocations
        check_loaded(rnnfast.load(io.BytesIO(data)))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tally = {kind: {"loaded": 0, "refused": 0} for kind in MUTATIONS}
    failures = []
    kinds, names = list(MUTATIONS), list(files)
    for number in range(count):
        kind = kinds[number % len(kinds)]
        source = names[rng.integers(len(names))]
        data = MUTATIONS[kind](files[source], rng)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = rnnfast.load(io.BytesIO(data))
        except ModelFileError:
            tally[kind]["refused"] += 1
            continue
        except Exception as exc:  # anything else is a defect
            failures.append(f"{kind} of {source} #{number}: {type(exc).__name__}: {exc}"[:300])
            continue
        try:
            check_loaded(model)
        except Exception as exc:
            message = f"{kind} of {source} #{number} loaded but: {type(exc).__name__}: {exc}"
            failures.append(message[:300])
            continue
        tally[kind]["loaded"] += 1
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"tally": tally, "failures": failures, "peak_growth_mb": (after - before) / 1024}


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]), int(sys.argv[2]))))
