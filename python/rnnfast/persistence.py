"""Save and load rnnfast objects without pickle: numpy arrays plus a JSON description.

File format (``format_version`` 1)
---------------------------------
A file is a zip archive as written by :func:`numpy.savez` and read with
``numpy.load(..., allow_pickle=False)``:

- ``__rnnfast__`` — a ``uint8`` array holding UTF-8 JSON::

      {"format": "rnnfast", "format_version": 1, "rnnfast_version": "0.1.0",
       "root": <node>}

- ``a0``, ``a1``, ... — the numeric, boolean or unicode arrays the nodes refer to.

A node is JSON ``null``, ``true``/``false``, a string, an integer, a finite float, a list of
nodes, or an object with exactly one of these tags:

=====================================  ===============================================
``{"$float": "nan" | "inf" | "-inf"}``  a non-finite float
``{"$tuple": [node, ...]}``             a tuple
``{"$path": "dir/file"}``               a :class:`pathlib.Path` (e.g. ``checkpoint_path``)
``{"$dict": {str: node}, "$id": n}``    a dict with string keys
``{"$items": [[node, node]], "$id": n}`` a dict with other keys
``{"$array": "a3", "object": bool}``    an array member (``object``: strings held as object)
``{"$scalar": dtype, "value": v}``      a numpy scalar
``{"$dtype": "float32"}``               a numpy dtype
``{"$generator": name, "$id": n,       a ``numpy.random.Generator`` and its bit state
  "state": node}``
``{"$random_state": node, "$id": n}``   a legacy ``numpy.random.RandomState`` and its state
``{"$object": class, "$id": n,          an instance of one of rnnfast's own classes
  "attributes": {str: node}}``
``{"$ref": n}``                         the node with ``"$id": n`` again (same object)
=====================================  ===============================================

``$ref`` keeps shared references shared: an optimizer updates the same arrays as the network
it trains, after loading as before. Loading instantiates only the classes in
:data:`PERSISTABLE_CLASSES` (``object.__new__`` and attribute assignment: no constructor, no
``__setstate__``, nothing imported or called by name from the file), so a file cannot run code.
Forward caches and last gradients are not saved.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import tempfile
import time
import warnings
import zipfile

import numpy as np

__all__ = ["FORMAT_VERSION", "PERSISTABLE_CLASSES", "ModelFileError", "load", "save"]

FORMAT_VERSION = 1
_HEADER = "__rnnfast__"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class ModelFileError(ValueError):
    """The file is not a readable rnnfast model file (truncated, corrupted, foreign, or from a
    newer format version)."""


def _persistable_classes() -> dict[str, tuple[type, dict]]:
    """Class name -> (class, attributes reset on save: name -> value they take on load)."""
    from rnnfast import estimators, nn, optim
    from rnnfast.data import SequenceScaler
    from rnnfast.estimators._training import FitProgress, TrainingState

    forward_state = {"grads": None}
    classes = {
        nn.RNN: {**forward_state, "_cache": None, "_last_forward_was_inference": False},
        nn.Linear: {**forward_state, "_input": None},
        nn.SequenceNetwork: {**forward_state, "_mask": None},
        nn.SequenceAutoencoder: forward_state,
        TrainingState: {},
        FitProgress: {},
        SequenceScaler: {},
    }
    classes[nn.LSTM] = classes[nn.GRU] = classes[nn.RNN]
    for name in estimators.__all__:
        if name != "TrainingDivergedError":
            classes[getattr(estimators, name)] = {}
    for name in optim.__all__:
        cls = getattr(optim, name)
        if isinstance(cls, type) and issubclass(cls, (optim.Optimizer, optim.LRSchedule)):
            classes[cls] = {}
    return {cls.__name__: (cls, reset) for cls, reset in classes.items()}


PERSISTABLE_CLASSES: dict[str, tuple[type, dict]] = {}


def _registry() -> dict[str, tuple[type, dict]]:
    if not PERSISTABLE_CLASSES:
        PERSISTABLE_CLASSES.update(_persistable_classes())
    return PERSISTABLE_CLASSES


# ----------------------------------------------------------------------------------- save
def save(obj, path) -> None:
    """Write a fitted (or unfitted) estimator, :class:`~rnnfast.SequenceScaler` or ``nn``
    module to ``path``.

    Parameters
    ----------
    obj : rnnfast estimator, SequenceScaler, or rnnfast.nn module
    path : str, os.PathLike or binary file object
        Written as given (no suffix is added); a path is replaced atomically, so an
        interrupted save never leaves a half-written file under the name. The file gets the
        mode of the file it replaces, or ``0666`` less the umask. The temporary file is
        ``.rnnfast-<pid>-<random>.tmp`` in the same directory; one left by a writer that was
        killed is removed by the next save there once it is a minute old.

    Raises
    ------
    TypeError
        If ``obj`` (or something it holds, e.g. a ``random_state`` object) is not something
        the format describes; pickle such objects instead.
    """
    if type(obj).__name__ not in _registry() or _registry()[type(obj).__name__][0] is not type(obj):
        raise TypeError(
            f"obj must be an rnnfast estimator, SequenceScaler or nn module, got "
            f"{type(obj).__module__}.{type(obj).__qualname__}"
        )
    encoder = _Encoder()
    root = encoder.node(obj, "obj")
    header = {
        "format": "rnnfast",
        "format_version": FORMAT_VERSION,
        "rnnfast_version": _version(),
        "root": root,
    }
    text = json.dumps(header, allow_nan=False, separators=(",", ":"))
    members = {_HEADER: np.frombuffer(text.encode("utf-8"), np.uint8), **encoder.arrays}
    if hasattr(path, "write"):
        np.savez(path, **members)
        return
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    _remove_stale_temporaries(directory)
    # the writer's pid in the name tells a later save whether this file's writer still runs
    fd, tmp = tempfile.mkstemp(prefix=f"{_TEMP_PREFIX}{os.getpid()}-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **members)
            # mkstemp makes the file 0600; give it the mode open() would have: the mode of
            # the file it replaces, else 0666 less the umask (as numpy's and torch's saves)
            os.fchmod(f.fileno(), _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


_TEMP_PREFIX = ".rnnfast-"
_STALE_AFTER_SECONDS = 60.0


def _mode_for(path: str) -> int:
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """The process umask, read without changing it where Linux shows it (setting it to read
    it would race with other threads creating files)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _remove_stale_temporaries(directory: str) -> None:
    """Delete the temporary files that writers killed mid-save left in ``directory``.

    A temporary is ``.rnnfast-<pid>-<random>.tmp``; it is removed when no process with that pid
    runs on this machine and it is over a minute old (a file of a writer on another machine
    sharing the directory is left alone while it is being written).
    """
    try:
        names = [
            n for n in os.listdir(directory) if n.startswith(_TEMP_PREFIX) and n.endswith(".tmp")
        ]
    except OSError:
        return
    now = time.time()
    for name in names:
        if not name.endswith(".tmp"):
            continue
        pid = name[len(_TEMP_PREFIX) :].split("-", 1)[0]
        if not pid.isdigit() or _process_exists(int(pid)):
            continue
        candidate = os.path.join(directory, name)
        try:
            if now - os.lstat(candidate).st_mtime > _STALE_AFTER_SECONDS:
                os.unlink(candidate)
        except OSError:
            pass  # gone already, or not ours to remove


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process, or a pid this system cannot have: keep the file
    return True


class _Encoder:
    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}
        self._array_keys: dict[int, str] = {}
        self._ids: dict[int, int] = {}
        self._keep: list = []  # keeps encoded objects alive so their id()s stay unique

    def node(self, value, where: str):
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, int) and type(value) is int:
            return value
        if type(value) is float:
            return value if math.isfinite(value) else {"$float": repr(value)}
        if isinstance(value, np.ndarray):
            return self._array(value, where)
        if isinstance(value, np.generic):
            if value.dtype.kind not in "biufc" or value.dtype.kind == "c":
                raise TypeError(f"{where}: cannot save a numpy {value.dtype} scalar")
            return {"$scalar": value.dtype.str, "value": self.node(value.item(), where)}
        if isinstance(value, np.dtype):
            return {"$dtype": value.str}
        if isinstance(value, pathlib.PurePath):
            return {"$path": str(value)}
        if isinstance(value, tuple):
            return {"$tuple": [self.node(v, f"{where}[{i}]") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [self.node(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if id(value) in self._ids:
            return {"$ref": self._ids[id(value)]}
        if isinstance(value, np.random.Generator):
            name = type(value.bit_generator).__name__
            if name not in _BIT_GENERATORS:
                raise TypeError(f"{where}: cannot save a Generator over {name}")
            ident = self._remember(value)
            state = self.node(value.bit_generator.state, where)
            return {"$generator": name, "$id": ident, "state": state}
        if isinstance(value, np.random.RandomState):
            ident = self._remember(value)
            return {"$random_state": self.node(value.get_state(legacy=False), where), "$id": ident}
        if isinstance(value, dict):
            ident = self._remember(value)
            if all(isinstance(k, str) for k in value):
                return {
                    "$dict": {k: self.node(v, f"{where}[{k!r}]") for k, v in value.items()},
                    "$id": ident,
                }
            return {
                "$items": [
                    [self.node(k, f"{where} key"), self.node(v, f"{where}[{k!r}]")]
                    for k, v in value.items()
                ],
                "$id": ident,
            }
        name = type(value).__name__
        entry = _registry().get(name)
        if entry is None or entry[0] is not type(value):
            raise TypeError(
                f"{where}: cannot save an object of type {type(value).__module__}."
                f"{type(value).__qualname__} in the rnnfast format (use pickle for it)"
            )
        ident = self._remember(value)
        reset = entry[1]
        attributes = {
            key: self.node(reset[key] if key in reset else attr, f"{where}.{key}")
            for key, attr in vars(value).items()
        }
        return {"$object": name, "$id": ident, "attributes": attributes}

    def _remember(self, value) -> int:
        self._ids[id(value)] = len(self._ids)
        self._keep.append(value)
        return self._ids[id(value)]

    def _array(self, array: np.ndarray, where: str):
        as_object = array.dtype == object
        if as_object:
            if not all(isinstance(v, str) for v in array.flat):
                raise TypeError(f"{where}: cannot save an object array that is not all strings")
            stored = array.astype(str)
        elif array.dtype.kind in "biufU":
            stored = array
        else:
            raise TypeError(f"{where}: cannot save an array of dtype {array.dtype}")
        key = self._array_keys.get(id(array))
        if key is None:
            key = f"a{len(self.arrays)}"
            self._array_keys[id(array)] = key
            self.arrays[key] = stored
            self._keep.append(array)
        return {"$array": key, "object": as_object}


# ----------------------------------------------------------------------------------- load
def load(path):
    """Read an object written by :func:`save` (or an estimator's ``save`` method).

    Parameters
    ----------
    path : str, os.PathLike or binary file object

    Returns
    -------
    The estimator, scaler or module, predicting bit for bit as the saved one did. A
    ``checkpoint_path`` held in the file is cleared (with a ``UserWarning``): a loaded model
    never writes to a path that its file names; pass it again to keep checkpointing.

    Raises
    ------
    ModelFileError
        (a ValueError) if the file is truncated, corrupted, not an rnnfast file, or written in a
        newer format version than this rnnfast reads.
    """
    source = path if hasattr(path, "read") else os.fspath(path)
    try:
        archive = np.load(source, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ModelFileError(
                f"{path!r} holds a single array, not an rnnfast model file (a zip archive)"
            )
        with archive:
            members = {name: archive[name] for name in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
        if isinstance(exc, (FileNotFoundError, ModelFileError)):
            raise
        raise ModelFileError(f"{path!r} is not a readable rnnfast model file: {exc}") from exc
    raw = sorted(name for name, member in members.items() if not isinstance(member, np.ndarray))
    if raw:  # numpy hands back the bytes of a member that is not an .npy array
        raise ModelFileError(f"{path!r} has members that are not arrays: {raw[:5]}")
    header = _read_header(members, path)
    decoder = _Decoder(members, path)
    try:
        obj = decoder.node(header["root"])
        for loaded in decoder.objects.values():
            _check_loaded(loaded, path)
    except (
        KeyError,
        TypeError,
        ValueError,
        IndexError,
        AttributeError,
        RecursionError,
        OverflowError,  # numbers past a scalar's or a generator state's range
    ) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(f"{path!r} has a malformed description: {exc!r}") from exc
    for loaded in decoder.objects.values():
        _forget_checkpoint_path(loaded, path)
    return obj


def _forget_checkpoint_path(obj, path) -> None:
    """A loaded object never writes where its file says: ``checkpoint_path`` is cleared."""
    target = getattr(obj, "checkpoint_path", None)
    if target is None:
        return
    obj.checkpoint_path = None
    warnings.warn(
        f"{path!r}: checkpoint_path {str(target)!r} from the file was cleared; a loaded model "
        "never writes to a path its file names. To keep checkpointing, pass it again: "
        "est.set_params(checkpoint_path=...)",
        UserWarning,
        stacklevel=3,
    )


def _read_header(members: dict, path) -> dict:
    raw = members.get(_HEADER)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{path!r} is not an rnnfast model file (no {_HEADER} member)")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:  # ValueError: bad JSON, or json's digit limit
        raise ModelFileError(f"{path!r} has a corrupted description: {exc}") from exc
    if not isinstance(header, dict) or header.get("format") != "rnnfast" or "root" not in header:
        raise ModelFileError(f"{path!r} is not an rnnfast model file")
    version = header.get("format_version")
    if type(version) is not int or version < 1:
        raise ModelFileError(f"{path!r} has an invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path!r} uses format_version {version}, written by rnnfast "
            f"{header.get('rnnfast_version')}; this rnnfast ({_version()}) reads format_version "
            f"<= {FORMAT_VERSION}: upgrade rnnfast to load it"
        )
    return header


class _Decoder:
    def __init__(self, members: dict, path) -> None:
        self.members = members
        self.path = path
        self.objects: dict[int, object] = {}
        self._arrays: dict[str, np.ndarray] = {}

    def node(self, node):
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if isinstance(node, list):
            return [self.node(v) for v in node]
        if not isinstance(node, dict):
            raise ModelFileError(f"{self.path!r}: unexpected node {node!r}")
        tags = [k for k in node if k.startswith("$") and k != "$id"]
        if len(tags) != 1:
            raise ModelFileError(f"{self.path!r}: node without a single tag: {sorted(node)}")
        return getattr(self, "_" + tags[0][1:])(node)

    def _float(self, node):
        if node["$float"] not in ("nan", "inf", "-inf"):
            raise ModelFileError(f"{self.path!r}: bad float {node['$float']!r}")
        return float(node["$float"])

    def _path(self, node):
        if not isinstance(node["$path"], str):
            raise ModelFileError(f"{self.path!r}: bad path {node['$path']!r}")
        return pathlib.Path(node["$path"])

    def _tuple(self, node):
        return tuple(self.node(v) for v in node["$tuple"])

    def _dict(self, node):
        result = self._register(node, {})
        for key, value in node["$dict"].items():
            result[key] = self.node(value)
        return result

    def _items(self, node):
        result = self._register(node, {})
        for key, value in node["$items"]:
            result[self.node(key)] = self.node(value)
        return result

    def _array(self, node):
        key = node["$array"]
        if key not in self.members or key == _HEADER:
            raise ModelFileError(f"{self.path!r}: missing array member {key!r}")
        if key not in self._arrays:
            array = self.members[key]
            self._arrays[key] = array.astype(object) if node.get("object") else array
        return self._arrays[key]

    def _scalar(self, node):
        dtype = np.dtype(node["$scalar"])
        if dtype.kind not in "biuf":
            raise ModelFileError(f"{self.path!r}: bad scalar dtype {dtype}")
        return dtype.type(self.node(node["value"]))

    def _dtype(self, node):
        dtype = np.dtype(node["$dtype"])
        if dtype.kind not in "biufU":
            raise ModelFileError(f"{self.path!r}: bad dtype {dtype}")
        return dtype

    def _generator(self, node):
        name = node["$generator"]
        if name not in _BIT_GENERATORS:
            raise ModelFileError(f"{self.path!r}: unknown bit generator {name!r}")
        bit_generator = getattr(np.random, name)()
        generator = self._register(node, np.random.Generator(bit_generator))
        bit_generator.state = self.node(node["state"])
        return generator

    def _random_state(self, node):
        state = self._register(node, np.random.RandomState())
        state.set_state(self.node(node["$random_state"]))
        return state

    def _ref(self, node):
        ident = node["$ref"]
        if ident not in self.objects:
            raise ModelFileError(f"{self.path!r}: reference to unknown $id {ident!r}")
        return self.objects[ident]

    def _object(self, node):
        entry = _registry().get(node["$object"])
        if entry is None:
            raise ModelFileError(f"{self.path!r}: unknown class {node['$object']!r}")
        cls, _ = entry
        obj = self._register(node, cls.__new__(cls))
        attributes = node["attributes"]
        if not isinstance(attributes, dict):
            raise ModelFileError(f"{self.path!r}: attributes of {cls.__name__} are not a mapping")
        for key, value in attributes.items():
            obj.__dict__[key] = self.node(value)
        return obj

    def _register(self, node, value):
        ident = node.get("$id")
        if type(ident) is not int or ident in self.objects:
            raise ModelFileError(f"{self.path!r}: bad or repeated $id {ident!r}")
        self.objects[ident] = value
        return value


def _check_loaded(obj, path) -> None:
    """Reject files whose arrays do not fit their modules (before the C++ core sees them)."""
    from rnnfast.nn import Linear, RecurrentStack

    if isinstance(obj, RecurrentStack):
        expected = obj._parameter_shapes()
        params = obj.params
        if not isinstance(params, dict) or set(params) != set(expected):
            raise ModelFileError(f"{path!r}: recurrent parameters do not match the architecture")
        for name, shape in expected.items():
            _check_param(params[name], shape, obj.dtype, name, path)
    elif isinstance(obj, Linear):
        shapes = {"weight": (obj.out_features, obj.in_features), "bias": (obj.out_features,)}
        if not isinstance(obj.params, dict) or set(obj.params) != set(shapes):
            raise ModelFileError(f"{path!r}: linear parameters do not match the architecture")
        for name, shape in shapes.items():
            _check_param(obj.params[name], shape, obj.dtype, name, path)


def _check_param(array, shape, dtype, name, path) -> None:
    if not isinstance(array, np.ndarray) or array.shape != shape or array.dtype != dtype:
        raise ModelFileError(
            f"{path!r}: parameter {name} should be a {np.dtype(dtype)} array of shape {shape}, "
            f"got {getattr(array, 'dtype', type(array).__name__)} "
            f"{getattr(array, 'shape', '')}"
        )
    if not array.flags.writeable or not array.flags.c_contiguous:
        raise ModelFileError(f"{path!r}: parameter {name} is not a writable contiguous array")


def _version() -> str:
    from rnnfast import __version__

    return __version__
