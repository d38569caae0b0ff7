"""Public data sets for the examples, tests and the results table — all installed offline.

- Classification (the UEA/UCR archive, bundled with ``sktime``): :func:`load_japanese_vowels`,
  :func:`load_basic_motions`, :func:`load_italy_power_demand`, :func:`load_gunpoint`,
  :func:`load_plaid`. Each returns the archive's own train/test split.
- Series: :func:`load_airline` (``sktime``), :func:`load_sunspots`, :func:`load_co2`,
  :func:`load_nile` (``statsmodels``).
- Text: :func:`load_python_docs`, the ~465k-character help corpus that ships with Python
  (``pydoc_data.topics``), so it needs no extra at all.

``sktime`` and ``statsmodels`` come with ``pip install "rnnfast[datasets]"``; a loader whose
package is missing raises an ImportError saying so.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch

__all__ = [
    "load_airline",
    "load_basic_motions",
    "load_co2",
    "load_gunpoint",
    "load_italy_power_demand",
    "load_japanese_vowels",
    "load_nile",
    "load_plaid",
    "load_python_docs",
    "load_sunspots",
]

_EXTRA = 'pip install "rnnfast[datasets]"'


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise ImportError(f"this data set is bundled with {top}: {_EXTRA}") from exc


# ------------------------------------------------------------------------- classification
def _uea_ucr(name: str, description: str) -> Bunch:
    """One archive data set as float32 sequences ``(time_i, n_features)`` and string labels."""
    datasets = _require("sktime.datasets")
    splits = {}
    for split in ("train", "test"):
        X, y = datasets.load_UCR_UEA_dataset(name, split=split, return_type="nested_univ")
        splits[split] = ([_sequence(X, i) for i in range(len(X))], np.asarray(y, dtype=str))
    X_train, y_train = splits["train"]
    X_test, y_test = splits["test"]
    lengths = [len(s) for s in X_train + X_test]
    return Bunch(
        X_train=_stack_if_equal(X_train),
        y_train=y_train,
        X_test=_stack_if_equal(X_test),
        y_test=y_test,
        name=name,
        n_features=X_train[0].shape[1],
        lengths=(min(lengths), max(lengths)),
        DESCR=description,
    )


def _sequence(frame, row: int) -> np.ndarray:
    columns = [np.asarray(frame.iloc[row, j], dtype=np.float32) for j in range(frame.shape[1])]
    return np.stack(columns, axis=1)


def _stack_if_equal(sequences: list[np.ndarray]):
    """A 3-D array when every sequence has the same length, else the ragged list."""
    if len({len(s) for s in sequences}) == 1:
        return np.stack(sequences)
    return sequences


def load_japanese_vowels() -> Bunch:
    """Speaker identification from speech: 9 speakers uttering /ae/, 12 LPC cepstrum
    coefficients per frame, 7-29 frames (ragged). 270 train / 370 test.

    Returns
    -------
    Bunch
        ``X_train``, ``X_test`` (lists of ``(time_i, 12)`` float32 arrays), ``y_train``,
        ``y_test`` (speaker labels as strings), ``name``, ``n_features``, ``lengths``, ``DESCR``.
    """
    return _uea_ucr("JapaneseVowels", "9 speakers, 12 LPC cepstra per frame, 7-29 frames")


def load_basic_motions() -> Bunch:
    """Motion recognition (standing, walking, running, badminton) from a wrist-worn
    accelerometer and gyroscope: 6 channels x 100 steps. 40 train / 40 test.
    Fields as :func:`load_japanese_vowels` (``X_*`` 3-D ``(n, 100, 6)``)."""
    return _uea_ucr("BasicMotions", "4 activities, 3-axis accelerometer + gyroscope, 100 steps")


def load_italy_power_demand() -> Bunch:
    """Italian daily electricity demand curves (24 hourly values): winter (Oct-Mar) or summer
    days. 67 train / 1029 test. ``X_*`` 3-D ``(n, 24, 1)``."""
    return _uea_ucr("ItalyPowerDemand", "24 hourly demand values, winter vs summer day")


def load_gunpoint() -> Bunch:
    """Hand motion tracks (x coordinate of the centroid, 150 steps): drawing a gun or pointing.
    50 train / 150 test. ``X_*`` 3-D ``(n, 150, 1)``."""
    return _uea_ucr("GunPoint", "x-coordinate of a hand, 150 frames, gun vs point")


def load_plaid() -> Bunch:
    """Appliance identification from one electrical cycle's current (PLAID): 11 appliance
    types, 100-1344 steps (ragged). 537 train / 537 test."""
    return _uea_ucr("PLAID", "11 appliance types from current waveforms, 100-1344 steps")


# --------------------------------------------------------------------------------- series
def _series(values, time, name: str, description: str, frequency: str) -> Bunch:
    return Bunch(
        series=np.asarray(values, dtype=np.float64),
        time=np.asarray(time),
        name=name,
        frequency=frequency,
        DESCR=description,
    )


def load_airline() -> Bunch:
    """Monthly international airline passengers (thousands), 1949-1960: 144 values
    (Box & Jenkins). Returns a Bunch with ``series`` (float64), ``time`` (``"YYYY-MM"`` strings),
    ``name``, ``frequency`` (``"monthly"``, seasonal period 12) and ``DESCR``."""
    series = _require("sktime.datasets").load_airline()
    return _series(
        series.to_numpy(),
        series.index.astype(str),
        "airline",
        "monthly airline passengers 1949-1960 (Box & Jenkins)",
        "monthly",
    )


def load_sunspots() -> Bunch:
    """Yearly mean sunspot activity, 1700-2008: 309 values (cycle of about 11 years).
    Fields as :func:`load_airline` (``time``: the years)."""
    data = _require("statsmodels.api").datasets.sunspots.load_pandas().data
    return _series(
        data["SUNACTIVITY"],
        data["YEAR"].astype(int),
        "sunspots",
        "yearly sunspot activity 1700-2008",
        "yearly",
    )


def load_co2() -> Bunch:
    """Weekly atmospheric CO2 at Mauna Loa (ppm), 1958-2001: 2284 values, the 59 missing
    weeks filled by linear interpolation (``missing`` marks them)."""
    data = _require("statsmodels.api").datasets.co2.load_pandas().data["co2"]
    missing = data.isna().to_numpy()
    bunch = _series(
        data.interpolate().to_numpy(),
        data.index.astype(str),
        "co2",
        "weekly CO2 at Mauna Loa 1958-2001, gaps interpolated",
        "weekly",
    )
    bunch.missing = missing
    return bunch


def load_nile() -> Bunch:
    """Yearly Nile flow at Aswan (10^8 m^3), 1871-1970: 100 values, with the well-known drop
    after 1898 (the first Aswan dam)."""
    data = _require("statsmodels.api").datasets.nile.load_pandas().data
    return _series(
        data["volume"], data["year"].astype(int), "nile", "yearly Nile flow 1871-1970", "yearly"
    )


# ----------------------------------------------------------------------------------- text
def load_python_docs() -> str:
    """Python's own help texts (``pydoc_data.topics``, ships with every CPython): about 465k
    characters of English prose and code, topics in sorted order."""
    from pydoc_data.topics import topics

    return "".join(topics[key] for key in sorted(topics))
