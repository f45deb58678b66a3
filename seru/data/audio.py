"""Audio file input and resampling, shared by the corpus readers and the input pipeline."""

from __future__ import annotations

import math
import os

import numpy as np

__all__ = ["AudioError", "load_wav", "resample"]


class AudioError(ValueError):
    """An audio file that cannot be read; the message names the file."""


def load_wav(path) -> tuple[np.ndarray, int]:
    """Reads an audio file with soundfile: ``(float32 mono samples, sample_rate)``.

    Integer PCM is scaled to ``[-1, 1)`` by soundfile; multichannel audio is
    mixed down to mono by averaging the channels. Raises :class:`AudioError`
    naming the file when it is missing or not readable audio.
    """
    import soundfile as sf

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AudioError(f"{path}: audio file not found")
    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError
        raise AudioError(f"{path}: cannot read audio ({type(e).__name__}: {e})") from e
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    return np.ascontiguousarray(mono, dtype=np.float32), int(sr)


def resample(x, sr_in: int, sr_out: int) -> np.ndarray:
    """Resamples ``x`` (along its last axis) from ``sr_in`` to ``sr_out`` Hz.

    Polyphase filtering with ``scipy.signal.resample_poly`` (up = sr_out / g,
    down = sr_in / g, g = gcd; its default Kaiser-windowed FIR, beta 5): exact
    for rational rate ratios, no FFT wrap-around at the ends. The output has
    ``ceil(n * up / down)`` samples. Returns float32; the input itself when the
    rates are equal.
    """
    from scipy.signal import resample_poly

    sr_in, sr_out = int(sr_in), int(sr_out)
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"resample: sample rates must be positive, got {sr_in} -> {sr_out}")
    x = np.asarray(x, dtype=np.float32)
    if sr_in == sr_out:
        return x
    g = math.gcd(sr_in, sr_out)
    return resample_poly(x, sr_out // g, sr_in // g, axis=-1).astype(np.float32)
