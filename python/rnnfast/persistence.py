"""Save and load rnnfast objects without pickle: numpy arrays plus a JSON description.

A file is a zip archive (``numpy.savez``) of arrays plus a versioned JSON description, read
with ``allow_pickle=False``; loading makes only the classes registered here with
:func:`persistable`, each with only its declared attributes, and checks every size before it
allocates (:mod:`rnnfast._model_archive`). The documentation's "Model files" page
(``docs/persistence.md``) specifies format version 1 node by node and lists every check.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
import tempfile
import time
import warnings
import zipfile

import numpy as np

from rnnfast._model_archive import ArchiveError, ModelArchive
from rnnfast._version import __version__

__all__ = [
    "FORMAT_VERSION",
    "PERSISTABLE_CLASSES",
    "ModelFileError",
    "load",
    "persistable",
    "save",
]

FORMAT_VERSION = 1
_HEADER = "__rnnfast__"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class ModelFileError(ValueError):
    """Raised for a file that is not a readable rnnfast model file.

    The file is truncated, corrupted, foreign, inconsistent, or from a newer format version.
    """


# Class name -> (class, attributes reset on save: name -> the value they take on load). Filled
# by the classes themselves (@persistable) as their modules are imported, so this module
# depends on nothing else of rnnfast; importing ``rnnfast`` imports every such module.
PERSISTABLE_CLASSES: dict[str, tuple[type, dict]] = {}


def persistable(klass: type | None = None, *, reset: dict | None = None):
    """Class decorator: let :func:`save` write ``klass`` and :func:`load` rebuild it.

    Parameters
    ----------
    klass : type
        A class with ``_saved_attributes`` (its closed set of saved attributes), or a dataclass.
    reset : dict, optional
        Attributes never written (forward caches, last gradients), mapped to the value each
        takes on load; merged with the class's ``_reset_on_save`` (inherited by subclasses).

    Returns
    -------
    type
        ``klass``, unchanged.
    """

    def register(cls: type) -> type:
        known = PERSISTABLE_CLASSES.get(cls.__name__)
        if known is not None and known[0] is not cls:
            raise TypeError(f"two persistable classes are named {cls.__name__!r}")
        PERSISTABLE_CLASSES[cls.__name__] = (
            cls,
            {**getattr(cls, "_reset_on_save", {}), **(reset or {})},
        )
        return cls

    return register if klass is None else register(klass)


def _registry() -> dict[str, tuple[type, dict]]:
    return PERSISTABLE_CLASSES


# ----------------------------------------------------------------------------------- save
def save(obj, path) -> None:
    """Write an estimator, scaler, sequencer or ``nn`` module to ``path``, without pickle.

    Parameters
    ----------
    obj : rnnfast estimator, SequenceScaler, TextSequencer, or rnnfast.nn module
        What to save, fitted or not.
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
        state = {
            key: attr
            for key, attr in vars(value).items()
            if key not in getattr(type(value), "_unsaved_attributes", ())
        }
        undeclared = sorted(set(state) - saved_attributes(type(value)))
        if undeclared:
            raise TypeError(
                f"{where}: attributes {undeclared[:5]} are not part of the state "
                f"{name} saves (set them again after loading)"
            )
        ident = self._remember(value)
        reset = entry[1]
        attributes = {
            key: self.node(reset[key] if key in reset else attr, f"{where}.{key}")
            for key, attr in state.items()
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
_MAX_DESCRIPTION_BYTES = 64 << 20
_MAX_DEPTH = 64  # nesting of nodes; rnnfast's own files nest about 12 deep
_MAX_INT_DIGITS = 60  # a PCG64 state is a 128-bit integer (39 digits)


def load(path):
    """Read an object written by :func:`save` (or an estimator's ``save`` method).

    Every file is treated as hostile until checked: sizes are checked against the bytes the
    file holds before anything is allocated, only rnnfast's own classes are made, each with
    only its own documented attributes, and the result is checked for consistency (shapes
    agree with the architecture, parameters are finite) before it is returned.

    Parameters
    ----------
    path : str, os.PathLike or binary file object
        The file to read.

    Returns
    -------
    object
        The estimator, scaler or module, predicting bit for bit as the saved one did. A
        ``checkpoint_path`` held in the file is cleared (with a ``UserWarning``): a loaded
        model never writes to a path that its file names; pass it again to keep checkpointing.

    Raises
    ------
    ModelFileError
        (a ValueError) if the file is truncated, corrupted, not an rnnfast file, inconsistent,
        or written in a newer format version than this rnnfast reads.
    FileNotFoundError
        If ``path`` does not exist.
    """
    source = path if hasattr(path, "read") else os.fspath(path)
    try:
        with ModelArchive(source) as archive:
            header = _read_header(archive, path)
            decoder = _Decoder(archive, path)
            obj = decoder.root(header["root"])
            unused = sorted(set(archive.members) - archive.read_names - {_HEADER})
            if unused:
                raise ModelFileError(
                    f"{path!r} has members the description never uses: {unused[:5]}"
                )
            # children before parents (each parent's check relies on its parts')
            for loaded in reversed(list(decoder.objects.values())):
                _check_loaded(loaded)
    except FileNotFoundError:
        raise
    except ModelFileError:
        raise
    except ArchiveError as exc:
        raise ModelFileError(f"{path!r} is not a readable rnnfast model file: {exc}") from exc
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ModelFileError(f"{path!r} is not a readable rnnfast model file: {exc}") from exc
    except (
        KeyError,
        TypeError,
        ValueError,
        IndexError,
        AttributeError,
        RecursionError,
        OverflowError,  # numbers past a scalar's or a generator state's range
    ) as exc:
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


def _read_header(archive: ModelArchive, path) -> dict:
    member = archive.members.get(_HEADER)
    if member is None or member.dtype != np.uint8 or len(member.shape) != 1:
        raise ModelFileError(f"{path!r} is not an rnnfast model file (no {_HEADER} member)")
    if member.nbytes > _MAX_DESCRIPTION_BYTES:
        raise ModelFileError(f"{path!r} has a description of {member.nbytes} bytes (too large)")
    raw = archive.read(_HEADER)
    try:
        header = json.loads(
            raw.tobytes().decode("utf-8"),
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
        )
    # ValueError: bad JSON, json's digit limit, or the hooks below; RecursionError: nesting
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelFileError(f"{path!r} has a corrupted description: {exc!r}") from exc
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


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"an integer of {len(text)} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # e.g. 1e400; rnnfast writes non-finite floats as $float
        raise ValueError(f"a number out of range: {text[:40]}")
    return value


def _refuse_constant(text: str):
    raise ValueError(f"a bare {text} (rnnfast writes non-finite floats as $float)")


# The keys each tagged node has, exactly
_NODE_KEYS = {
    "$float": {"$float"},
    "$tuple": {"$tuple"},
    "$path": {"$path"},
    "$dict": {"$dict", "$id"},
    "$items": {"$items", "$id"},
    "$array": {"$array", "object"},
    "$scalar": {"$scalar", "value"},
    "$dtype": {"$dtype"},
    "$generator": {"$generator", "$id", "state"},
    "$random_state": {"$random_state", "$id"},
    "$object": {"$object", "$id", "attributes"},
    "$ref": {"$ref"},
}


class _Decoder:
    """Builds objects from a description, reading array members only when referred to."""

    def __init__(self, archive: ModelArchive, path) -> None:
        self.archive = archive
        self.path = path
        self.objects: dict[int, object] = {}
        self._arrays: dict[tuple[str, bool], np.ndarray] = {}
        self._depth = 0
        self._decoders = {
            "$float": self._float,
            "$tuple": self._tuple,
            "$path": self._path,
            "$dict": self._dict,
            "$items": self._items,
            "$array": self._array,
            "$scalar": self._scalar,
            "$dtype": self._dtype,
            "$generator": self._generator,
            "$random_state": self._random_state,
            "$object": self._object,
            "$ref": self._ref,
        }

    def root(self, node):
        """The saved object: always one of rnnfast's classes."""
        if not isinstance(node, dict) or "$object" not in node:
            raise ModelFileError(f"{self.path!r}: the root is not an rnnfast object")
        return self.node(node)

    def node(self, node):
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        self._depth += 1
        try:
            if self._depth > _MAX_DEPTH:
                raise ModelFileError(f"{self.path!r}: description nested over {_MAX_DEPTH} deep")
            if isinstance(node, list):
                return [self.node(v) for v in node]
            if not isinstance(node, dict):
                raise ModelFileError(f"{self.path!r}: unexpected node {node!r}")
            tags = [k for k in node if k in _NODE_KEYS]
            if len(tags) != 1 or set(node) != _NODE_KEYS[tags[0]]:
                raise ModelFileError(
                    f"{self.path!r}: node with keys {sorted(node)[:6]} is not one of the format's"
                )
            return self._decoders[tags[0]](node)
        finally:
            self._depth -= 1

    def _float(self, node):
        if node["$float"] not in ("nan", "inf", "-inf"):
            raise ModelFileError(f"{self.path!r}: bad float {node['$float']!r}")
        return float(node["$float"])

    def _path(self, node):
        if not isinstance(node["$path"], str):
            raise ModelFileError(f"{self.path!r}: bad path {node['$path']!r}")
        return pathlib.Path(node["$path"])

    def _tuple(self, node):
        return tuple(self.node(v) for v in _expect(node["$tuple"], list, self.path))

    def _dict(self, node):
        entries = _expect(node["$dict"], dict, self.path)
        result = self._register(node, {})
        for key, value in entries.items():
            result[key] = self.node(value)
        return result

    def _items(self, node):
        entries = _expect(node["$items"], list, self.path)
        result = self._register(node, {})
        for pair in entries:
            key, value = _expect(pair, list, self.path)
            result[self.node(key)] = self.node(value)
        return result

    def _array(self, node):
        key, as_object = node["$array"], node["object"]
        if not isinstance(key, str) or key == _HEADER or type(as_object) is not bool:
            raise ModelFileError(f"{self.path!r}: bad array node {node!r}")
        if (key, as_object) not in self._arrays:
            array = self.archive.read(key)
            if as_object:
                if array.dtype.kind != "U":
                    raise ModelFileError(f"{self.path!r}: object array {key!r} is not strings")
                array = array.astype(object)
            self._arrays[key, as_object] = array
        return self._arrays[key, as_object]

    def _scalar(self, node):
        dtype = np.dtype(_expect(node["$scalar"], str, self.path))
        if dtype.kind not in "biuf":
            raise ModelFileError(f"{self.path!r}: bad scalar dtype {dtype}")
        value = self.node(node["value"])
        if isinstance(value, float) and dtype.kind != "f":
            raise ModelFileError(f"{self.path!r}: a float value for a {dtype} scalar")
        return dtype.type(value)

    def _dtype(self, node):
        dtype = np.dtype(_expect(node["$dtype"], str, self.path))
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
        if type(ident) is not int or ident not in self.objects:
            raise ModelFileError(f"{self.path!r}: reference to unknown $id {ident!r}")
        return self.objects[ident]

    def _object(self, node):
        name = node["$object"]
        entry = _registry().get(name) if isinstance(name, str) else None
        if entry is None:
            raise ModelFileError(f"{self.path!r}: unknown class {name!r}")
        cls, reset = entry
        attributes = node["attributes"]
        if not isinstance(attributes, dict):
            raise ModelFileError(f"{self.path!r}: attributes of {cls.__name__} are not a mapping")
        allowed = saved_attributes(cls)
        foreign = sorted(set(attributes) - allowed)
        if foreign:  # a file must never shadow a method or add state the class does not have
            raise ModelFileError(
                f"{self.path!r}: {foreign[:5]} are not attributes {cls.__name__} saves"
            )
        obj = self._register(node, cls.__new__(cls))
        for key, value in attributes.items():
            if key not in reset:
                obj.__dict__[key] = self.node(value)
        obj.__dict__.update(reset)  # forward caches and last gradients never come from a file
        return obj

    def _register(self, node, value):
        ident = node.get("$id")
        if type(ident) is not int or ident in self.objects:
            raise ModelFileError(f"{self.path!r}: bad or repeated $id {ident!r}")
        self.objects[ident] = value
        return value


def _expect(value, kind: type, path):
    if not isinstance(value, kind):
        raise ModelFileError(f"{path!r}: expected a {kind.__name__}, got {type(value).__name__}")
    return value


def saved_attributes(cls: type) -> frozenset:
    """The closed set of attributes the format saves and restores for ``cls``: a dataclass's
    fields, else the class's ``_saved_attributes`` plus, for an estimator, its parameters."""
    if dataclasses.is_dataclass(cls):
        return frozenset(f.name for f in dataclasses.fields(cls))
    names = set(cls._saved_attributes)
    if hasattr(cls, "_get_param_names"):
        names.update(cls._get_param_names())
    return frozenset(names)


def _check_loaded(obj) -> None:
    """Let each loaded object check its own consistency (shapes against the architecture,
    finite parameters, hyperparameters in range) before anything runs on it."""
    check = getattr(obj, "_check_loaded_state", None)
    if check is not None:
        check()


def _version() -> str:
    return __version__
