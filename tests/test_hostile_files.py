"""Model files as a hostile user writes them (reliability issue, findings 2, 4 and 6): sizes a
file claims, methods it tries to rebind, and fields that contradict each other. Each is a
ModelFileError before anything large is allocated or anything runs on the loaded object."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import tracemalloc
import zipfile

import numpy as np
import pytest

import rnnfast
from rnnfast import nn
from rnnfast.persistence import ModelFileError

RNG = np.random.default_rng(0)
X = RNG.standard_normal((30, 6, 2)).astype(np.float32)
LABELS = (X[:, :, 0].sum(axis=1) > 0).astype(int)


def classifier_bytes(**params) -> bytes:
    est = rnnfast.RNNClassifier(hidden_size=4, max_epochs=1, random_state=0, **params)
    buffer = io.BytesIO()
    est.fit(X, LABELS).save(buffer)
    return buffer.getvalue()


def module_bytes(module) -> bytes:
    buffer = io.BytesIO()
    module.save(buffer)
    return buffer.getvalue()


def members_of(data: bytes) -> dict:
    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def header_of(members: dict) -> dict:
    return json.loads(members["__rnnfast__"].tobytes())


def archive_of(members: dict, header: dict | None = None) -> bytes:
    if header is not None:
        members = {**members, "__rnnfast__": np.frombuffer(json.dumps(header).encode(), np.uint8)}
    out = io.BytesIO()
    np.savez(out, **members)
    return out.getvalue()


def edited(data: bytes, edit) -> bytes:
    members = members_of(data)
    header = header_of(members)
    edit(header)
    return archive_of(members, header)


def load_bytes(data: bytes):
    return rnnfast.load(io.BytesIO(data))


def array_key(header: dict, *path: str) -> str:
    """The member name of the array at attribute ``path`` of the root object."""
    node = header["root"]
    for name in path:
        node = node["attributes"][name] if "$object" in node else node["$dict"][name]
    return node["$array"]


def npy_member(header: dict, payload: bytes) -> bytes:
    """An .npy member's bytes: ``header`` (shape/dtype claims) then ``payload`` verbatim."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue() + payload


def with_member_bytes(data: bytes, name: str, raw: bytes, compress: bool = False) -> bytes:
    """The archive with member ``name`` replaced by ``raw`` bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as target:
        for info in source.infolist():
            if info.filename == name + ".npy":
                target.writestr(name + ".npy", raw, compress_type=method)
            else:
                target.writestr(info.filename, source.read(info))
    return out.getvalue()


# --------------------------------------------------------------- finding 2: sizes before memory
def test_a_member_claiming_a_huge_shape_is_refused_before_allocating():
    """Was numpy's MemoryError: the .npy header's shape was allocated before it was read."""
    data = classifier_bytes()
    key = array_key(header_of(members_of(data)), "classes_")
    claim = {"descr": "<f4", "fortran_order": False, "shape": (10**13,)}
    bad = with_member_bytes(data, key, npy_member(claim, b"\0" * 64))
    with pytest.raises(ModelFileError, match=r"claims shape \(10000000000000,\)"):
        load_bytes(bad)


def _zip_bomb(data: bytes, key: str, gib: float) -> bytes:
    """``data`` with member ``key`` replaced by a deflated float32 array of ``gib`` GiB of
    zeros (about 1 MB compressed per GiB), built chunk by chunk."""
    count = int(gib * (1 << 30)) // 4
    head = npy_member({"descr": "<f4", "fortran_order": False, "shape": (count,)}, b"")
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compresslevel=1) as target:
        for info in source.infolist():
            if info.filename != key + ".npy":
                target.writestr(info.filename, source.read(info))
                continue
            bomb = zipfile.ZipInfo(info.filename)
            bomb.compress_type = zipfile.ZIP_DEFLATED
            with target.open(bomb, "w", force_zip64=True) as stream:
                stream.write(head)
                chunk = bytes(1 << 22)
                for _ in range(count * 4 // len(chunk)):
                    stream.write(chunk)
    return out.getvalue()


@pytest.mark.slow
def test_a_zip_bomb_is_refused_with_bounded_memory(tmp_path):
    """Was: a 1 MB file holding a deflated member of 1 GiB of zeros loaded at 1.2 GB peak."""
    data = classifier_bytes()
    key = array_key(header_of(members_of(data)), "classes_")
    bomb = _zip_bomb(data, key, 1.0)
    assert len(bomb) < 2 << 20
    path = tmp_path / "bomb.rnnfast"
    path.write_bytes(bomb)
    growth_mb, outcome = _peak_growth_of_load(path)
    assert outcome.startswith("ModelFileError") and "expands" in outcome, outcome
    assert growth_mb < 50, growth_mb


def _peak_growth_of_load(path) -> tuple[float, str]:
    """Load ``path`` in a fresh process: (peak RSS growth in MB over the load, outcome)."""
    script = textwrap.dedent(
        f"""
        import resource, rnnfast
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            rnnfast.load({str(path)!r}); outcome = "loaded"
        except Exception as exc:
            outcome = type(exc).__name__ + ": " + str(exc)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) / 1024); print(outcome)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300
    )
    growth, outcome = done.stdout.split("\n", 1)
    return float(growth), outcome.strip()


def test_a_huge_layer_count_is_refused_before_building_anything():
    """Was: ``num_layers: 2000000`` took 10 s and 1.6 GB before it was refused."""
    data = module_bytes(nn.LSTM(2, 3, random_state=0))
    bad = edited(data, lambda h: h["root"]["attributes"].update(num_layers=2_000_000))
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="do not match the architecture"):
            load_bytes(bad)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 << 20, peak


@pytest.mark.parametrize(
    "header",
    [
        b"{'descr': '<f4', 'fortran_order': False, 'shape': (3,\n",  # unclosed: TokenError
        b"{'descr': '<f4', 'fortran_order': False, 'shape': (3,)) }\n",  # SyntaxError
        b"{'descr': 'O', 'fortran_order': False, 'shape': (1,), }\n",  # pickled objects
        b"not a dict at all\n",
    ],
    ids=["unclosed", "syntax", "object", "garbage"],
)
def test_a_broken_npy_header_is_a_model_file_error(header):
    """Found by the fuzz test: a bit flip in a header made numpy's parser raise TokenError."""
    data = classifier_bytes()
    key = array_key(header_of(members_of(data)), "classes_")
    raw = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\0" * 12
    with pytest.raises(ModelFileError, match=key):
        load_bytes(with_member_bytes(data, key, raw))


def test_overlapping_members_cannot_multiply_the_file():
    data = classifier_bytes()
    directory_end = data.rfind(b"PK\x05\x06")
    first_entry = data.find(b"PK\x01\x02")
    # claim every member's compressed size is the whole file (as overlapping entries would)
    patched = bytearray(data)
    position = first_entry
    while 0 <= position < directory_end:
        patched[position + 20 : position + 24] = len(data).to_bytes(4, "little")
        name_length = int.from_bytes(data[position + 28 : position + 30], "little")
        extra = int.from_bytes(data[position + 30 : position + 32], "little")
        comment = int.from_bytes(data[position + 32 : position + 34], "little")
        position += 46 + name_length + extra + comment
    with pytest.raises(ModelFileError, match="more bytes than the file holds"):
        load_bytes(bytes(patched))


def test_members_the_description_never_uses_are_refused():
    members = members_of(classifier_bytes())
    with pytest.raises(ModelFileError, match="never uses"):
        load_bytes(archive_of({**members, "a999": np.zeros(3)}))


# --------------------------------------------------------------- finding 4: a closed format
def test_a_file_cannot_rebind_methods():
    """Was: attributes went straight into __dict__, so ``predict`` returned the file's value."""
    data = classifier_bytes()
    for name in ("predict", "predict_proba", "__class__", "score"):
        bad = edited(data, lambda h, n=name: h["root"]["attributes"].update({n: 1}))
        with pytest.raises(ModelFileError, match="are not attributes RNNClassifier saves"):
            load_bytes(bad)


def test_tags_never_dispatch_to_other_methods():
    """Was: a tag like ``$_eq__`` called the decoder's ``__eq__``."""
    data = classifier_bytes()
    for tag in ("$_eq__", "$_init__", "$_register", "$node"):
        bad = edited(data, lambda h, t=tag: h["root"]["attributes"].update(cell={t: 1}))
        with pytest.raises(ModelFileError, match="is not one of the format's"):
            load_bytes(bad)


@pytest.mark.parametrize("root", [5, "text", [1, 2], None, {"$float": "nan"}])
def test_the_root_is_always_an_rnnfast_object(root):
    """Was: a root of ``5`` loaded as the integer 5."""
    bad = edited(classifier_bytes(), lambda h: h.update(root=root))
    with pytest.raises(ModelFileError, match="root is not an rnnfast object"):
        load_bytes(bad)


def test_tagged_nodes_have_exactly_their_keys():
    data = classifier_bytes()
    bad = edited(data, lambda h: h["root"]["attributes"].update(cell={"$float": "nan", "x": 1}))
    with pytest.raises(ModelFileError, match="is not one of the format's"):
        load_bytes(bad)


def test_forward_caches_in_a_file_are_ignored():
    data = module_bytes(nn.GRU(2, 3, random_state=0))
    crafted = edited(data, lambda h: h["root"]["attributes"].update(_cache=[1, 2], grads=7))
    module = load_bytes(crafted)
    assert module._cache is None and module.grads is None


def test_saving_an_attribute_the_format_does_not_restore_is_refused():
    module = nn.GRU(2, 3, random_state=0)
    module.note = "mine"
    with pytest.raises(TypeError, match=r"\['note'\] are not part of the state GRU saves"):
        module.save(io.BytesIO())


def test_declared_attributes_never_shadow_methods():
    from rnnfast.persistence import _registry, saved_attributes

    for name, (cls, _) in _registry().items():
        for attribute in saved_attributes(cls):
            assert not callable(getattr(cls, attribute, None)), (name, attribute)
            assert not isinstance(getattr(cls, attribute, None), property), (name, attribute)


# --------------------------------------------------------------- finding 6: consistency
def test_a_head_narrower_than_the_stack_is_refused():
    net = nn.SequenceNetwork("gru", 2, 3, 1, random_state=0)
    net.head = nn.Linear(2, 1, random_state=0)
    net.params = {f"recurrent.{k}": v for k, v in net.recurrent.params.items()}
    net.params.update({f"head.{k}": v for k, v in net.head.params.items()})
    with pytest.raises(ModelFileError, match="head reads 2 features but the stack gives 3"):
        load_bytes(module_bytes(net))


def test_one_class_is_refused():
    est = rnnfast.RNNClassifier(hidden_size=4, max_epochs=1, random_state=0).fit(X, LABELS)
    est.classes_ = est.classes_[:1]
    with pytest.raises(ModelFileError, match="at least 2 labels"):
        load_bytes(module_bytes(est))


def test_complex_class_labels_are_refused():
    data = classifier_bytes()
    members = members_of(data)
    key = array_key(header_of(members), "classes_")
    members[key] = members[key].astype(np.complex64)
    with pytest.raises(ModelFileError, match="complex64, not a number or string type"):
        load_bytes(archive_of(members))


@pytest.mark.parametrize("where", ["estimator", "network"])
def test_a_float_size_is_refused(where):
    def edit(header):
        attributes = header["root"]["attributes"]
        if where == "network":
            attributes = attributes["network_"]["attributes"]["recurrent"]["attributes"]
        attributes["hidden_size"] = 4.0

    with pytest.raises(ModelFileError, match=r"hidden_size must be (a positive|an) integer"):
        load_bytes(edited(classifier_bytes(), edit))


def test_nan_weights_are_refused():
    """Was: the model loaded and predicted class 0 with NaN probabilities, no error."""
    data = classifier_bytes()
    members = members_of(data)
    header = header_of(members)
    network = header["root"]["attributes"]["network_"]["attributes"]
    key = network["head"]["attributes"]["params"]["$dict"]["weight"]["$array"]
    members[key] = members[key].copy()
    members[key][0, 0] = np.nan
    with pytest.raises(ModelFileError, match="weight holds NaN or infinite values"):
        load_bytes(archive_of(members))


def test_an_optimizer_detached_from_the_network_is_refused():
    est = rnnfast.RNNClassifier(hidden_size=4, max_epochs=1, random_state=0).fit(X, LABELS)
    est._training_.optimizer.params = {k: v.copy() for k, v in est.network_.params.items()}
    with pytest.raises(ModelFileError, match="optimizer does not hold network_'s parameters"):
        load_bytes(module_bytes(est))


def test_standardisation_statistics_must_be_finite():
    est = rnnfast.RNNRegressor(hidden_size=4, max_epochs=1, random_state=0)
    est.fit(X, X[:, 0, 0])
    est._y_scale = np.array([np.inf])
    with pytest.raises(ModelFileError, match="_y statistics hold NaN or infinite values"):
        load_bytes(module_bytes(est))


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda h: h["root"]["attributes"].update(frame_stride_=0), "frame_stride_ must be a"),
        # X's 2 features give the default classifier 6 channels (z-normalised + 2 levels each)
        (
            lambda h: h["root"]["attributes"].update(frame_stride_=3, frame_size_=3),
            "network_ maps 6 features",
        ),
        (
            lambda h: h["root"]["attributes"].update(frame_stride_=3),
            "frame_size_ must be at least frame_stride_",
        ),
        (lambda h: h["root"]["attributes"].update(frame_size_=0), "frame_size_ must be a"),
    ],
    ids=["zero-stride", "stride-against-network", "frames-skip-steps", "zero-size"],
)
def test_input_transform_must_agree_with_the_network(edit, match):
    with pytest.raises(ModelFileError, match=match):
        load_bytes(edited(classifier_bytes(), edit))


def test_input_statistics_must_fit_the_features():
    members = members_of(classifier_bytes())
    key = array_key(header_of(members), "_x_scale")
    members[key] = np.ones(3, np.float32)  # X has 2 features
    with pytest.raises(ModelFileError, match=r"_x statistics must be float arrays of shape \(2,\)"):
        load_bytes(archive_of(members))


# --------------------------------------------------------------- branches of the loader
@pytest.mark.parametrize(
    "raw, match",
    [
        ('{"format":"rnnfast","format_version":1,"root":{"x":1e400}}', "out of range"),
        ('{"format":"rnnfast","format_version":1,"root":NaN}', "bare NaN"),
        ('{"format":"rnnfast","format_version":1,"root":' + "9" * 61 + "}", "digits"),
    ],
    ids=["inf-float", "nan-constant", "long-int"],
)
def test_json_numbers_are_bounded(raw, match):
    members = members_of(classifier_bytes())
    members["__rnnfast__"] = np.frombuffer(raw.encode(), np.uint8)
    with pytest.raises(ModelFileError, match=match):
        load_bytes(archive_of(members))


def test_nesting_depth_is_bounded():
    deep = {"$tuple": [1]}
    for _ in range(80):
        deep = {"$tuple": [deep]}
    bad = edited(classifier_bytes(), lambda h: h["root"]["attributes"].update(cell=deep))
    with pytest.raises(ModelFileError, match="nested over 64 deep"):
        load_bytes(bad)


def test_big_endian_and_fortran_members_load_as_native_arrays():
    """Foreign byte order is converted; Fortran order is refused for parameters (the core
    needs C order) but fine elsewhere."""
    est = rnnfast.RNNRegressor(hidden_size=3, max_epochs=1, random_state=0).fit(X, X[:, 0, 0])
    data = module_bytes(est)
    members = members_of(data)
    header = header_of(members)
    key = header["root"]["attributes"]["_y_mean"]["$array"]
    members[key] = members[key].astype(members[key].dtype.newbyteorder(">"))
    loaded = load_bytes(archive_of(members, header))
    assert loaded._y_mean.dtype.isnative
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    classifier = members_of(classifier_bytes())
    network = header_of(classifier)["root"]["attributes"]["network_"]["attributes"]
    weight = network["head"]["attributes"]["params"]["$dict"]["weight"]["$array"]
    classifier[weight] = np.asfortranarray(classifier[weight])  # (2, hidden): truly F order
    assert not classifier[weight].flags.c_contiguous
    with pytest.raises(ModelFileError, match="writable contiguous"):
        load_bytes(archive_of(classifier))


def test_a_member_shorter_than_its_directory_entry_is_refused():
    data = bytearray(classifier_bytes())
    key = array_key(header_of(members_of(bytes(data))), "classes_")
    # claim a larger uncompressed size in the central directory than the member holds
    entry = data.find(b"PK\x01\x02")
    while entry >= 0:
        name_length = int.from_bytes(data[entry + 28 : entry + 30], "little")
        name = bytes(data[entry + 46 : entry + 46 + name_length]).decode()
        if name == key + ".npy":
            size = int.from_bytes(data[entry + 24 : entry + 28], "little")
            data[entry + 24 : entry + 28] = (size + 8).to_bytes(4, "little")
            data[entry + 20 : entry + 24] = (size + 8).to_bytes(4, "little")
            break
        entry = data.find(b"PK\x01\x02", entry + 1)
    with pytest.raises(ModelFileError):
        load_bytes(bytes(data))


def test_inconsistent_language_models_are_refused():
    from rnnfast import SequenceTranslator, TextSequencer

    words = ["abc", "hello", "data"] * 4
    translator = SequenceTranslator(hidden_size=4, embedding_dim=3, max_epochs=1).fit(
        words, [w[::-1] for w in words]
    )
    translator.target_vocabulary_ += 1
    with pytest.raises(ModelFileError, match="vocabularies do not match"):
        load_bytes(module_bytes(translator))
    translator.target_vocabulary_ -= 1
    translator.source_kind_ = "ids"
    with pytest.raises(ModelFileError, match="source_kind_ and source_sequencer_ disagree"):
        load_bytes(module_bytes(translator))
    translator.source_kind_ = "str"
    translator.network_.head.out_features += 1  # no longer the target embedding's size
    with pytest.raises(ModelFileError):
        load_bytes(module_bytes(translator))
    sequencer = TextSequencer().fit(["a b c"])
    sequencer.n_tokens_ = 9
    with pytest.raises(ModelFileError, match="token table disagree"):
        load_bytes(module_bytes(sequencer))
