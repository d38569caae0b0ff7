"""Input checks shared by every layer (nn, optim, data, estimators): clear errors instead of wrong
numbers. Depends on numpy only, so importing it loads no compiled code."""

from __future__ import annotations

import numbers

import numpy as np

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def check_dtype(dtype: object) -> np.dtype:
    """Return ``dtype`` as a numpy dtype if it is float32 or float64, else raise TypeError."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    # `dtype is None` would give float64 silently; `x in tuple` would also match None that way.
    if dtype is None or resolved is None or not any(resolved == d for d in SUPPORTED_DTYPES):
        raise TypeError(f"dtype must be numpy.float32 or numpy.float64, got {dtype!r}")
    return resolved


def check_positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_number(
    value: object,
    name: str,
    low: float = -np.inf,
    high: float = np.inf,
    *,
    include_low: bool = True,
    include_high: bool = False,
    integer: bool = False,
) -> float | int:
    """``value`` as a float (or int) inside the interval from ``low`` to ``high``.

    TypeError when it is not a real number (an integer with ``integer``; bools are neither),
    ValueError when it is NaN or outside the interval (infinity is outside unless
    ``include_high`` with ``high = inf``).
    """
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, kind):
        raise TypeError(f"{name} must be {'an integer' if integer else 'a number'}, got {value!r}")
    above_low = value >= low if include_low else value > low
    below_high = value <= high if include_high else value < high
    if not (above_low and below_high):  # also catches NaN
        interval = f"{'[' if include_low else '('}{low}, {high}{']' if include_high else ')'}"
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return int(value) if integer else float(value)


def check_probability(value: object, name: str) -> float:
    """A float in ``[0, 1)``, e.g. a dropout rate (1 would drop everything)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a float in [0, 1), got {value!r}")
    return float(value)


# How a frozen recurrent module may store its weights (RecurrentStack.freeze): "float" is
# the module's own dtype; the reduced precisions serve float32 modules only.
PRECISIONS = ("float", "bfloat16", "int8")


def check_precision(value: object, dtype: object, name: str) -> str:
    """One of :data:`PRECISIONS`, a reduced one only for a float32 module."""
    if not isinstance(value, str) or value not in PRECISIONS:
        raise ValueError(f"{name} must be one of {list(PRECISIONS)}, got {value!r}")
    if value != "float" and np.dtype(dtype) != np.float32:
        raise ValueError(
            f"{name}={value!r} serves float32 modules only; this one is {np.dtype(dtype).name}"
        )
    return value


def as_float_array(value: object, name: str, dtype: np.dtype, shape: tuple) -> np.ndarray:
    """Convert ``value`` to a C-contiguous array of ``dtype``, checking kind, shape and finiteness.

    ``shape`` holds the expected size per axis, ``None`` where any size is allowed, and its
    length is the required number of dimensions.
    """
    # An array already as wanted (the usual case in a serving loop) skips the conversions:
    # they were half of the check's 6 us in a one-step call.
    ready = type(value) is np.ndarray and value.dtype == dtype and value.flags.c_contiguous
    try:
        array = value if ready else np.asarray(value)
    except Exception as exc:  # e.g. ragged nested lists
        raise TypeError(f"{name} must be a numeric array, got {type(value).__name__}") from exc
    if array.dtype.kind not in "fiu":
        raise TypeError(
            f"{name} must hold real numbers (float or integer), got dtype {array.dtype}"
        )
    if array.ndim != len(shape):
        raise ValueError(
            f"{name} must be {len(shape)}-D with shape {_describe(shape)}, got {array.ndim}-D "
            f"array of shape {array.shape}"
        )
    for got, want in zip(array.shape, shape, strict=True):
        if want is not None and got != want:
            raise ValueError(f"{name} must have shape {_describe(shape)}, got {array.shape}")
    if not ready:
        array = np.ascontiguousarray(array, dtype=dtype)
    if not all_finite(array):
        raise ValueError(f"{name} contains NaN or infinity")
    return array


# Arrays up to this many values are checked in one pass with a temporary of a byte per value
# (about 1.2 us for a short sequence, against 3.5 us for the two reductions below).
_SMALL_ARRAY = 1 << 16


def all_finite(array: np.ndarray) -> bool:
    """Whether a float array holds no NaN or infinity, without a temporary of its size.

    ``min`` and ``max`` propagate NaN and end at an infinity if there is one, so two
    reductions answer what ``np.isfinite(array).all()`` would with a byte per element; small
    arrays, whose check is mostly the reductions' fixed cost, take that one pass instead.
    """
    if array.size <= _SMALL_ARRAY:
        return bool(np.isfinite(array).all())
    return bool(np.isfinite(array.min()) and np.isfinite(array.max()))


def check_lengths(lengths: object, batch: int, time: int) -> np.ndarray | None:
    """Validate per-sample lengths; return them as int64, or None when every sample is full."""
    if lengths is None:
        return None
    array = np.asarray(lengths)
    if array.dtype.kind not in "iu":
        raise TypeError(f"lengths must be an integer array, got dtype {array.dtype}")
    if array.shape != (batch,):
        raise ValueError(f"lengths must have shape ({batch},) (one per sample), got {array.shape}")
    if batch and (array.min() < 1 or array.max() > time):
        raise ValueError(
            f"lengths must lie in [1, {time}] (the time dimension of x), got values in "
            f"[{array.min()}, {array.max()}]"
        )
    if batch == 0 or (array == time).all():
        return None
    return np.ascontiguousarray(array, dtype=np.int64)


def _describe(shape: tuple) -> str:
    inner = ", ".join("*" if s is None else str(s) for s in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def check_class_scores(scores: object, name: str) -> np.ndarray:
    """Per-step class scores ``(batch, time, classes)`` as C-contiguous float32 or float64.

    Float64 stays float64; other real dtypes become float32. TypeError for non-numeric or
    complex input; ValueError for another number of dimensions, an empty axis, NaN or infinity.
    """
    array = np.asarray(scores)
    if array.dtype.kind not in "fiu" or array.dtype == np.bool_:
        raise TypeError(f"{name} must be a real floating-point array, got dtype {array.dtype}")
    if array.ndim != 3:
        raise ValueError(f"{name} must be 3-D (batch, time, classes), got shape {array.shape}")
    if 0 in array.shape:
        raise ValueError(f"{name} must have at least one sample, step and class, got {array.shape}")
    dtype = np.float64 if array.dtype == np.float64 else np.float32
    array = np.ascontiguousarray(array, dtype=dtype)
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinity")
    return array


def check_input_lengths(lengths: object, batch: int, time: int) -> np.ndarray:
    """``input_lengths`` as int64 ``(batch,)`` in ``[1, time]``; all ``time`` when None."""
    if lengths is None:
        return np.full(batch, time, np.int64)
    array = np.asarray(lengths)
    if array.dtype.kind not in "iu":
        raise TypeError(f"input_lengths must be integers, got dtype {array.dtype}")
    if array.shape != (batch,):
        raise ValueError(f"input_lengths must have shape ({batch},), got {array.shape}")
    if array.size and (array.min() < 1 or array.max() > time):
        raise ValueError(f"input_lengths must be in [1, {time}] (the time axis)")
    return np.ascontiguousarray(array, dtype=np.int64)


def check_blank(blank: object, n_classes: int) -> int:
    """The blank class index, an int in ``[0, n_classes)``."""
    return check_number(blank, "blank", 0, n_classes, integer=True)


def check_step_scores(
    scores: object, name: str, input_lengths: object, blank: object
) -> tuple[np.ndarray, np.ndarray, int]:
    """What the CTC loss and decoders take, checked together: ``(scores, lengths, blank)``
    (see :func:`check_class_scores`, :func:`check_input_lengths`, :func:`check_blank`)."""
    scores = check_class_scores(scores, name)
    n, time, n_classes = scores.shape
    return scores, check_input_lengths(input_lengths, n, time), check_blank(blank, n_classes)


def check_loaded_parameters(params: object, shapes: dict, dtype: np.dtype, owner: str) -> None:
    """Parameters read from a file: exactly the names of ``shapes``, each a writable,
    C-contiguous, finite array of its shape and ``dtype`` (ValueError otherwise), so neither
    the C++ core nor a prediction ever sees a file's inconsistency."""
    if not isinstance(params, dict) or set(params) != set(shapes):
        raise ValueError(f"{owner} parameters do not match the architecture")
    for name, shape in shapes.items():
        array = params[name]
        if not isinstance(array, np.ndarray) or array.shape != shape or array.dtype != dtype:
            raise ValueError(
                f"{owner} parameter {name} should be a {np.dtype(dtype)} array of shape {shape}, "
                f"got {getattr(array, 'dtype', type(array).__name__)} "
                f"{getattr(array, 'shape', '')}"
            )
        if not array.flags.writeable or not array.flags.c_contiguous:
            raise ValueError(f"{owner} parameter {name} is not a writable contiguous array")
        if not np.isfinite(array).all():
            raise ValueError(f"{owner} parameter {name} holds NaN or infinite values")


def check_bool(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a bool, got {value!r}")
    return bool(value)


def check_generator(value: object, name: str) -> np.random.Generator:
    if not isinstance(value, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator, got {type(value).__name__}")
    return value
