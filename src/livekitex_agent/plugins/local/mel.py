"""Whisper's log-mel spectrogram in numpy: the input of Whisper-encoder models such as Smart Turn.

The published definition (OpenAI Whisper, ``audio.py``): 16 kHz audio; a short-time Fourier
transform with a 400-sample periodic Hann window (25 ms), hop 160 (10 ms), centred frames with
reflect padding, the last frame dropped; power spectrum; 80 triangular mel filters on the Slaney
mel scale with Slaney area normalisation (librosa's default ``filters.mel``); ``log10`` of the
energies clamped at 1e-10; values below ``max - 8`` raised to it; then ``(x + 4) / 4``.

``n`` samples give ``n // 160`` frames: 8 s (128,000 samples) → an (80, 800) array.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80

_F_SP = 200.0 / 3  # Hz per mel in the linear part of the Slaney scale
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # 15
_LOG_STEP = np.log(6.4) / 27.0  # above 1 kHz: 27 mels per factor of 6.4


def hz_to_mel(hz: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Slaney's mel scale: linear below 1 kHz (3 mels per 200 Hz), logarithmic above."""
    f = np.asarray(hz, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(f >= _MIN_LOG_HZ, log_part, f / _F_SP)


def mel_to_hz(mel: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """The inverse of :func:`hz_to_mel`."""
    m = np.asarray(mel, dtype=np.float64)
    log_part = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(m, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(m >= _MIN_LOG_MEL, log_part, m * _F_SP)


@functools.cache
def mel_filterbank(
    n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE
) -> npt.NDArray[np.float32]:
    """(n_mels, n_fft // 2 + 1) triangular filters, each of unit area over Hz (Slaney normalisation).

    The band edges are ``n_mels + 2`` points equally spaced in mel between 0 Hz and Nyquist; filter
    ``m`` rises from edge ``m`` to a peak of ``2 / (edge[m+2] - edge[m])`` at edge ``m+1`` and falls
    to zero at edge ``m+2``. Read-only: the array is shared.
    """
    fft_hz = np.linspace(0.0, sample_rate / 2, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2), n_mels + 2))
    widths = np.diff(edges)
    offsets = edges[:, None] - fft_hz[None, :]  # edge - bin frequency
    rising = -offsets[:-2] / widths[:-1, None]
    falling = offsets[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    out = weights.astype(np.float32)
    out.flags.writeable = False
    return out


@functools.cache
def _hann(n: int = N_FFT) -> npt.NDArray[np.float32]:
    """The periodic Hann window (``torch.hann_window(n)``): the DFT-even form used for spectra."""
    w = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)
    w.flags.writeable = False
    return w


def power_spectrogram(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """|STFT|² with centred, reflect-padded 400-sample frames every 160 samples, last frame dropped.

    Returns (N_FFT // 2 + 1, len(audio) // HOP).
    """
    if audio.ndim != 1 or audio.size <= N_FFT // 2:
        raise ValueError(f"need mono audio longer than {N_FFT // 2} samples, got shape {audio.shape}")
    pad = N_FFT // 2
    padded = np.pad(audio.astype(np.float32, copy=False), pad, mode="reflect")
    n_frames = 1 + (padded.size - N_FFT) // HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP][: n_frames - 1]
    spectrum = np.fft.rfft(frames * _hann(), axis=1)
    power = spectrum.real**2 + spectrum.imag**2
    return power.T.astype(np.float32)


def log_mel_spectrogram(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Whisper's (80, len(audio) // 160) log-mel features of 16 kHz float audio in [-1, 1]."""
    mel = mel_filterbank() @ power_spectrogram(audio)
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32)
