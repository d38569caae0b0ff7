"""Target checks shared by the classifiers (sequence and per-step labels)."""

from __future__ import annotations

import numpy as np
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d


def labels_1d(y, n: int) -> np.ndarray:
    """One label per sequence: a 1-D array of length ``n`` of classification targets."""
    if y is None:
        raise ValueError("requires y to be passed, but the target y is None")
    y = column_or_1d(check_array(y, ensure_2d=False, dtype=None, input_name="y"), warn=True)
    if len(y) != n:
        raise ValueError(f"X has {n} sequences but y has {len(y)} labels")
    check_classification_targets(y)
    return y


def fit_classes(y: np.ndarray, classes=None) -> np.ndarray:
    """The sorted classes (``classes`` if given, which must contain every label of ``y``)."""
    found = np.unique(y)
    if classes is not None:
        classes = np.unique(np.asarray(classes))
        unseen = np.setdiff1d(found, classes)
        if len(unseen):
            raise ValueError(f"y contains labels {unseen.tolist()} that are not in classes")
        found = classes
    if len(found) < 2:
        raise ValueError(
            f"the classifier needs samples of at least 2 classes in the data, but the data "
            f"contains only one class: {found[0]!r}"
        )
    return found


def encode_labels(y: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Indices of ``y`` in ``classes``; ValueError naming labels not seen in fit."""
    codes = np.searchsorted(classes, y)
    codes = np.clip(codes, 0, len(classes) - 1)
    unseen = classes[codes] != y
    if unseen.any():
        raise ValueError(
            f"y contains labels not seen during fit: {np.unique(y[unseen]).tolist()[:10]}"
        )
    return codes.astype(np.int64)


def check_class_weight(class_weight) -> None:
    if (
        class_weight is not None
        and class_weight != "balanced"
        and not isinstance(class_weight, dict)
    ):
        raise ValueError(f"class_weight must be None, 'balanced' or a dict, got {class_weight!r}")


def class_weights_for(class_weight, classes: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Per-row weights from ``class_weight`` (ones when None)."""
    if class_weight is None:
        return np.ones(len(codes), np.float32)
    present = np.unique(codes)
    weights = np.ones(len(classes))
    if class_weight == "balanced":
        # balance over the classes present in this data (partial_fit may see a subset)
        weights[present] = compute_class_weight("balanced", classes=present, y=codes)
    else:
        unknown = [k for k in class_weight if k not in set(classes.tolist())]
        if unknown:
            raise ValueError(f"class_weight has labels {unknown} that are not in the classes")
        for label, value in class_weight.items():
            weights[np.searchsorted(classes, label)] = value
    return weights[codes].astype(np.float32)


def check_loaded_classes(classes: object, minimum: int) -> None:
    """``classes_`` read from a file: a 1-D array of at least ``minimum`` sorted, distinct,
    real or string labels (what :func:`fit_classes` produces)."""
    if not isinstance(classes, np.ndarray) or classes.ndim != 1 or len(classes) < minimum:
        raise ValueError(f"classes_ must be a 1-D array of at least {minimum} labels")
    if classes.dtype.kind not in "biufUO":
        raise ValueError(f"classes_ must hold numbers or strings, got dtype {classes.dtype}")
    if classes.dtype.kind == "f" and not np.isfinite(classes).all():
        raise ValueError("classes_ holds NaN or infinite labels")
    try:
        distinct_sorted = np.array_equal(np.unique(classes), classes)
    except TypeError:  # labels that do not compare
        distinct_sorted = False
    if not distinct_sorted:
        raise ValueError("classes_ must be sorted and distinct")
