"""rnnfast.data.audio: the log-mel front end, checked against its definition and physics."""

from __future__ import annotations

import numpy as np
import pytest

from rnnfast.data.audio import hz_to_mel, log_mel_spectrogram, mel_filterbank, mel_to_hz

RATE = 16_000
SECOND = np.arange(RATE) / RATE


def test_mel_scale_round_trip_and_reference_points():
    hz = np.array([0.0, 700.0, 1000.0, 4000.0, 8000.0])
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz)), hz, atol=1e-9)
    assert hz_to_mel(0.0) == 0
    assert hz_to_mel(1000.0) == pytest.approx(999.99, abs=0.01)  # the scale's anchor: ~1000 mel


def test_filterbank_triangles():
    bank = mel_filterbank(20, 512, RATE, 0.0, RATE / 2)
    assert bank.shape == (20, 257)
    assert bank.min() >= 0 and bank.max() <= 1
    peaks = bank.argmax(axis=1)
    assert (np.diff(peaks) > 0).all()  # centres rise with the band index
    # neighbouring triangles overlap and cross near half height
    assert (bank[:-1] * bank[1:]).max() > 0.1


@pytest.mark.parametrize("frequency", [300.0, 1000.0, 3000.0, 6000.0])
def test_a_tone_lights_the_band_around_its_frequency(frequency):
    features = log_mel_spectrogram(np.sin(2 * np.pi * frequency * SECOND), RATE)
    edges = mel_to_hz(np.linspace(hz_to_mel(0), hz_to_mel(RATE / 2), 40 + 2))
    band = int(features.mean(axis=0).argmax())
    assert edges[band] <= frequency <= edges[band + 2]


def test_shape_scaling_and_dtype():
    signal = np.random.default_rng(0).standard_normal(RATE)
    features = log_mel_spectrogram(signal, RATE, n_mels=24)
    window, hop = 400, 160
    assert features.shape == (1 + (RATE - window) // hop, 24)
    assert features.dtype == np.float32
    # power doubles twice when the amplitude doubles: + log 4 in every band
    louder = log_mel_spectrogram(2 * signal, RATE, n_mels=24)
    np.testing.assert_allclose(louder - features, np.log(4), atol=1e-4)
    assert log_mel_spectrogram(np.ones(100), RATE).shape == (1, 40)  # shorter than a window


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(signal=np.zeros((2, 100))), ValueError, "1-D"),
        (dict(signal=np.array([])), ValueError, "non-empty"),
        (dict(signal=np.array([np.nan, 1.0])), ValueError, "NaN"),
        (dict(sample_rate=0), ValueError, "sample_rate"),
        (dict(n_mels=0), ValueError, "n_mels"),
        (dict(fmax=RATE), ValueError, "fmax"),
    ],
)
def test_bad_input(kwargs, error, match):
    arguments = {"signal": np.zeros(1000), "sample_rate": RATE, **kwargs}
    signal, rate = arguments.pop("signal"), arguments.pop("sample_rate")
    with pytest.raises(error, match=match):
        log_mel_spectrogram(signal, rate, **arguments)
