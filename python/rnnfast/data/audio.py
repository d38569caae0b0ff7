"""Speech features: the log-mel spectrogram that speech recognisers take as input frames."""

from __future__ import annotations

import numpy as np
import scipy.signal

from rnnfast._validation import check_number


def hz_to_mel(hz):
    """The HTK mel scale: ``2595 log10(1 + hz / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, float) / 700.0)


def mel_to_hz(mel):
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, float) / 2595.0) - 1.0)


def mel_filterbank(n_mels: int, n_fft: int, sample_rate: float, fmin: float, fmax: float):
    """Triangular filters ``(n_mels, n_fft // 2 + 1)`` with centres equally spaced in mels,
    each rising from the previous centre to its own and falling to the next (height 1)."""
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    left, centre, right = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - left) / (centre - left)
    falling = (right - bins) / (right - centre)
    return np.maximum(0.0, np.minimum(rising, falling))


def log_mel_spectrogram(
    signal,
    sample_rate: float,
    *,
    n_mels: int = 40,
    window_ms: float = 25.0,
    hop_ms: float = 10.0,
    fmin: float = 0.0,
    fmax: float | None = None,
) -> np.ndarray:
    """Log-mel power spectrogram of a mono signal: one row of ``n_mels`` features per frame.

    Frames of ``window_ms`` every ``hop_ms`` (the speech front end's usual 25 ms / 10 ms),
    Hann-windowed; their power spectra are pooled by :func:`mel_filterbank` and the natural
    log taken with a floor of 1e-10.

    Parameters
    ----------
    signal : array-like of shape (n_samples,)
        The mono signal.
    sample_rate : float
        Samples per second.
    n_mels : int, default 40
        Mel bands: features per frame.
    window_ms, hop_ms : float, default 25, 10
        Frame length and the step between frames, in milliseconds.
    fmin, fmax : float
        Band of the filters; ``fmax`` defaults to the Nyquist frequency.

    Returns
    -------
    ndarray of shape (n_frames, n_mels), float32
        ``n_frames = 1 + (n_samples - window) // hop`` (at least one frame: a signal shorter
        than a window is zero-padded to one).
    """
    signal = np.asarray(signal, dtype=np.float64)
    if signal.ndim != 1 or signal.size == 0:
        raise ValueError(f"signal must be a non-empty 1-D array, got shape {signal.shape}")
    if not np.isfinite(signal).all():
        raise ValueError("signal contains NaN or infinity")
    sample_rate = check_number(sample_rate, "sample_rate", 0, include_low=False)
    n_mels = check_number(n_mels, "n_mels", 1, integer=True)
    fmax = sample_rate / 2 if fmax is None else fmax
    check_number(fmin, "fmin", 0)
    check_number(fmax, "fmax", fmin, sample_rate / 2, include_low=False, include_high=True)
    window = max(1, round(sample_rate * window_ms / 1000))
    hop = max(1, round(sample_rate * hop_ms / 1000))
    if signal.size < window:
        signal = np.pad(signal, (0, window - signal.size))
    n_fft = 1 << (window - 1).bit_length()
    frames = np.lib.stride_tricks.sliding_window_view(signal, window)[::hop]
    spectrum = np.fft.rfft(frames * scipy.signal.get_window("hann", window), n=n_fft)
    power = spectrum.real**2 + spectrum.imag**2
    mel = power @ mel_filterbank(n_mels, n_fft, sample_rate, fmin, fmax).T
    return np.log(np.maximum(mel, 1e-10)).astype(np.float32)
