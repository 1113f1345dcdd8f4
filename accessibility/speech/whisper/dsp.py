"""Whisper's audio front end as constant matrices (numpy, build time), so the graph needs only Conv and MatMul.

Whisper computes ``log_mel_spectrogram(pad_or_trim(audio))`` with torch.stft and ``mel_filters.npz``; here the
Hann-windowed DFT becomes Conv kernels and the Slaney mel bank is recomputed (librosa's formula) rather than
shipped, so neither torch nor librosa is needed.
"""

from __future__ import annotations

import math

import numpy as np

SAMPLE_RATE = 16_000
N_FFT = 400
HOP = 160
N_MELS = 80
CHUNK_SECONDS = 30
N_SAMPLES = SAMPLE_RATE * CHUNK_SECONDS  # 480 000
N_FRAMES = N_SAMPLES // HOP  # 3000 mel frames -> 1500 encoder positions
POSITION_SAMPLES = 2 * HOP  # 320 samples (20 ms) = 2 mel frames = 1 encoder position (conv2 has stride 2)


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale (librosa ``htk=False``): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mels = f / (200.0 / 3)
    logstep = math.log(6.4) / 27.0
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / logstep, mels)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, dtype=np.float64)
    logstep = math.log(6.4) / 27.0
    return np.where(m >= 15.0, 1000.0 * np.exp(logstep * (m - 15.0)), m * (200.0 / 3))


def mel_filters(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """``librosa.filters.mel(sr, n_fft, n_mels)`` (Slaney scale and area norm) — Whisper's ``mel_filters.npz``."""
    fftfreqs = np.linspace(0.0, sr / 2, 1 + n_fft // 2)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)  # [n_mels, 1 + n_fft // 2]


def hann_window(n: int = N_FFT) -> np.ndarray:
    """Periodic Hann window (``torch.hann_window(n)``)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)).astype(np.float64)


def dft_kernels(n_fft: int = N_FFT) -> np.ndarray:
    """Windowed real-DFT basis as Conv kernels [2 * (n_fft // 2 + 1), 1, n_fft]: cosines then sines."""
    n_bins = n_fft // 2 + 1
    k = np.arange(n_bins)[:, None]
    n = np.arange(n_fft)[None, :]
    angle = 2.0 * np.pi * ((k * n) % n_fft) / n_fft  # exact reduction keeps the basis accurate
    window = hann_window(n_fft)[None, :]
    basis = np.concatenate([np.cos(angle) * window, -np.sin(angle) * window], axis=0)
    return basis.astype(np.float32)[:, None, :]
