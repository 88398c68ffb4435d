"""Whisper log-mel features, checked against values derived by hand from the published definition."""

from __future__ import annotations

import numpy as np
import pytest

from livekitex_agent.plugins.local.mel import (
    N_FFT,
    hz_to_mel,
    log_mel_spectrogram,
    mel_filterbank,
    mel_to_hz,
    power_spectrogram,
)


def test_slaney_mel_scale_is_linear_below_1khz_and_logarithmic_above() -> None:
    assert hz_to_mel(200.0) == pytest.approx(3.0)  # 3 mels per 200 Hz
    assert hz_to_mel(1000.0) == pytest.approx(15.0)
    assert hz_to_mel(6400.0) == pytest.approx(15.0 + 27.0)  # 27 mels per factor of 6.4
    hz = np.array([0.0, 440.0, 999.0, 1000.0, 3000.0, 8000.0])
    assert np.allclose(mel_to_hz(hz_to_mel(hz)), hz)


def test_filterbank_is_80_unit_area_triangles_between_0_hz_and_nyquist() -> None:
    fb = mel_filterbank()
    assert fb.shape == (80, N_FFT // 2 + 1)
    assert (fb >= 0).all()
    assert not fb.flags.writeable
    edges = mel_to_hz(np.linspace(0.0, hz_to_mel(8000.0), 82))
    bin_hz = 16000 / N_FFT
    for m in range(80):
        lo, centre, hi = edges[m : m + 3]
        nonzero = np.flatnonzero(fb[m]) * bin_hz
        assert nonzero.min() > lo - 1e-6 and nonzero.max() < hi + 1e-6  # zero outside its band
        assert fb[m].max() <= 2.0 / (hi - lo) + 1e-6  # peak of a unit-area triangle
        if hi - lo > 10 * bin_hz:  # wide enough for the sampled triangle to show its area
            assert fb[m].sum() * bin_hz == pytest.approx(1.0, rel=0.02)
            assert abs(np.argmax(fb[m]) * bin_hz - centre) <= bin_hz


def test_a_bin_centred_tone_gives_the_power_the_hann_window_predicts() -> None:
    # 1 kHz is bin 25 (40 Hz bins); with the periodic Hann window (sum N/2) a tone of amplitude A
    # has |X| = A/2 * N/2 in its bin and A/2 * N/4 in each neighbour, and nothing elsewhere
    amplitude, n = 0.5, 16000
    audio = (amplitude * np.sin(2 * np.pi * 1000.0 * np.arange(n) / 16000)).astype(np.float32)
    power = power_spectrogram(audio)
    assert power.shape == (N_FFT // 2 + 1, n // 160)
    frame = power[:, 50]
    expected = np.zeros(N_FFT // 2 + 1)
    expected[25] = (amplitude / 2 * N_FFT / 2) ** 2
    expected[24] = expected[26] = (amplitude / 2 * N_FFT / 4) ** 2
    assert np.allclose(frame, expected, atol=1e-3 * expected.max())

    features = log_mel_spectrogram(audio)
    energies = mel_filterbank().astype(np.float64) @ expected
    log_e = np.log10(np.maximum(energies, 1e-10))
    log_e = np.maximum(log_e, log_e.max() - 8.0)
    assert np.allclose(features[:, 50], (log_e + 4.0) / 4.0, atol=1e-3)


def test_silence_is_the_floor_and_8_seconds_are_800_frames() -> None:
    features = log_mel_spectrogram(np.zeros(128000, dtype=np.float32))
    assert features.shape == (80, 800)
    assert np.allclose(features, (-10.0 + 4.0) / 4.0)  # log10 of the 1e-10 clamp


def test_the_dynamic_range_is_clamped_to_8_decades_below_the_peak() -> None:
    rng = np.random.default_rng(1)
    audio = np.r_[rng.normal(0, 0.3, 8000), np.zeros(8000)].astype(np.float32)
    features = log_mel_spectrogram(audio)
    assert features.max() - features.min() == pytest.approx(8.0 / 4.0, abs=1e-5)


def test_bad_audio_is_refused_with_its_shape() -> None:
    with pytest.raises(ValueError, match=r"\(2, 400\)"):
        power_spectrogram(np.zeros((2, 400), dtype=np.float32))
