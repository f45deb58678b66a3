"""Audio file input and resampling, shared by the corpus readers, the input pipeline and the
frame extractors (MFBF0, the encoders: :func:`mono_16k`)."""

from __future__ import annotations

import math
import os
from typing import Callable

import numpy as np

__all__ = ["AudioError", "load_wav", "check_samples", "mono_16k", "resample"]


class AudioError(ValueError):
    """An audio file that cannot be read; the message names the file."""


#: The first line of a Git LFS pointer file (what a clone without ``git lfs pull`` holds).
LFS_POINTER = b"version https://git-lfs.github.com/spec/v1"


def load_wav(path) -> tuple[np.ndarray, int]:
    """Reads an audio file with soundfile: ``(float32 mono samples, sample_rate)``.

    The one audio loader of the corpus readers and of prediction. Integer PCM
    is scaled to ``[-1, 1)`` by soundfile; multichannel audio is mixed down to
    mono by averaging the channels. Raises :class:`AudioError` naming the file
    and what was found when it is missing, a Git LFS pointer (with what to
    run), not readable audio, empty (0 samples), non-finite (any NaN or inf
    sample: how many, and the first one's time), or digital zero (every sample
    exactly 0: silence by definition, nothing to rate or predict).
    """
    import soundfile as sf

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise AudioError(f"{path}: audio file not found")
    with open(path, "rb") as f:
        head = f.read(len(LFS_POINTER))
    if head == LFS_POINTER:
        raise AudioError(f"{path}: a Git LFS pointer, not audio: the corpus was cloned "
                         f"without its large files; run `git lfs pull` in its repository")
    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises LibsndfileError / RuntimeError
        raise AudioError(f"{path}: cannot read audio ({type(e).__name__}: {e})") from e
    mono = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    check_samples(mono, sr, path)
    return np.ascontiguousarray(mono, dtype=np.float32), int(sr)


def check_samples(x: np.ndarray, sample_rate: int, where: str) -> None:
    """Refuses audio that cannot be rated or predicted: raises :class:`AudioError` starting
    with ``where`` (a file name) when ``x`` ``[samples]`` is empty, holds a non-finite
    sample (how many, and the first one's index and time at ``sample_rate`` Hz) or is
    digital zero (every sample exactly 0)."""
    if x.size == 0:
        raise AudioError(f"{where}: empty audio (0 samples)")
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.argmax(bad))
        raise AudioError(f"{where}: {int(bad.sum())} of {x.size} samples are not finite "
                         f"(NaN or inf), the first at sample {first} "
                         f"({first / sample_rate:.3f} s)")
    if not x.any():
        raise AudioError(f"{where}: every one of its {x.size} samples is digital zero "
                         f"(silence by definition)")


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


def mono_16k(audio, sr: int,
             resampler: Callable[[np.ndarray, int, int], np.ndarray] = resample) -> np.ndarray:
    """One utterance's waveform as the frame extractors take it: float32 mono at 16 kHz.

    The checks and the conversion that MFBF0 (:mod:`seru.data.features.mfbf0`) and the
    speech encoders (:mod:`seru.encoders.ssl`, :mod:`seru.encoders.hf`) share; each
    caller adds its own minimum length after it.

    Args:
      audio: mono waveform ``[samples]``, float in [-1, 1] (full scale); cast to float32.
      sr: its sample rate in Hz; audio at another rate than 16 kHz is resampled.
      resampler: ``(x [samples] float32, sr_in, sr_out) -> [samples']`` float32, called only
        when ``sr`` is not 16 kHz. Default :func:`resample` (polyphase); MFBF0 passes
        ``librosa.resample`` (soxr), which gives other samples, so that its cached
        features stay the same.

    Returns:
      float32 ``[samples']`` at 16 kHz (``audio`` itself, cast, when ``sr`` is 16 kHz);
      possibly empty.

    Raises:
      ValueError: ``audio`` is not 1-d (the message names its shape).
      seru.data.features.config.SkipUtterance: ``extractor_failed`` for a non-finite sample
        (NaN or inf).
    """
    from seru.data.features.config import SAMPLE_RATE, SkipUtterance

    y = np.asarray(audio, np.float32)
    if y.ndim != 1:
        raise ValueError(f"audio must be mono [samples], got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise SkipUtterance("extractor_failed", "non-finite audio samples")
    if int(sr) != SAMPLE_RATE:
        y = np.asarray(resampler(y, int(sr), SAMPLE_RATE), np.float32)
    return y
