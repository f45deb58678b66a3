"""The ``'librosa'`` feature set: 59 LLDs per 10 ms frame, 9 functionals each (531-d)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from seru.data.features.config import DEFAULTS, SAMPLE_RATE, SkipUtterance
from seru.data.features.stats import FUNCTIONALS, functionals


def _voicing(y: np.ndarray, cfg: Mapping[str, Any], sr: int) -> np.ndarray:
    """Voicing probability per (centred) frame: the maximum normalised autocorrelation.

    ``max_tau r(tau) / r(0)`` over the lags ``tau`` in
    ``[int(sr / fmax), ceil(sr / fmin)]`` samples, with ``r(tau) = sum_t
    x_t x_{t+tau} / (N - tau)`` (the unbiased estimate) of the mean-removed
    frame, clipped to [0, 1]: 1 for a periodic frame, near 0 for white noise,
    0 where ``r(0) <= 1e-10`` (silence).

    Args:
      y: mono audio [samples], float, at ``sr`` Hz.
      cfg: the full feature config (``f0_frame_length``, ``hop_length`` in
        samples, ``fmin``, ``fmax`` in Hz).
      sr: the sample rate in Hz.

    Returns:
      float64 [1 + len(y) // hop_length] in [0, 1] (frames centred like
      ``librosa.yin``'s: the signal is zero-padded by half a frame).
    """
    import librosa

    fl, hop = cfg["f0_frame_length"], cfg["hop_length"]
    frames = librosa.util.frame(np.pad(y, fl // 2), frame_length=fl, hop_length=hop)
    frames = frames - frames.mean(0, keepdims=True)
    spec = np.fft.rfft(frames, n=2 * fl, axis=0)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=0)[:fl]
    lo = max(1, int(sr / cfg["fmax"]))
    hi = min(fl - 1, int(np.ceil(sr / cfg["fmin"])))
    lags = np.arange(lo, hi + 1)
    r0 = ac[0] / fl
    peak = (ac[lo:hi + 1] / (fl - lags)[:, None]).max(0)  # unbiased (overlap-normalised)
    return np.where(r0 > 1e-10, np.clip(peak / np.where(r0 > 1e-10, r0, 1.0), 0.0, 1.0), 0.0)


def _prepare(audio: np.ndarray, sr: int, cfg: Mapping[str, Any]) -> tuple[np.ndarray, int]:
    """The checked 16 kHz float32 waveform of ``audio``; the skip checks of the extractors.

    Returns ``(y, SAMPLE_RATE)``: ``y`` float32 [samples], resampled with
    ``librosa.resample`` if ``sr`` differs from 16 kHz.

    Raises:
      ValueError: ``audio`` is not 1-d.
      SkipUtterance: ``too_short`` (shorter than one window or fewer than
        ``min_frames`` frames), ``extractor_failed`` (non-finite samples),
        ``silent`` (RMS below ``silence_db`` dBFS).
    """
    import librosa

    y = np.asarray(audio, np.float32)
    if y.ndim != 1:
        raise ValueError(f"audio must be mono [samples], got shape {y.shape}")
    if sr != SAMPLE_RATE:
        y = librosa.resample(y, orig_sr=sr, target_sr=SAMPLE_RATE).astype(np.float32)
        sr = SAMPLE_RATE
    n_frames = 1 + len(y) // cfg["hop_length"]
    if len(y) < cfg["win_length"] or n_frames < cfg["min_frames"]:
        raise SkipUtterance("too_short", f"{len(y)} samples = {n_frames} frames < "
                                         f"min_frames={cfg['min_frames']}")
    if not np.all(np.isfinite(y)):
        raise SkipUtterance("extractor_failed", "non-finite audio samples")
    rms_all = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    if rms_all <= 0 or 20 * np.log10(rms_all) < cfg["silence_db"]:
        raise SkipUtterance("silent", f"RMS {rms_all:.3g} below {cfg['silence_db']} dBFS")
    return y, sr


def _lld_rows(y: np.ndarray, sr: int, cfg: Mapping[str, Any]) -> np.ndarray:
    """The LLD matrix of a prepared 16 kHz waveform (:func:`_prepare`): float64 [59, frames].

    Rows in the order of :func:`~seru.data.features.stats.lld_names`; F0 is
    ``librosa.yin``'s estimate in every frame (voiced or not). Each LLD is
    computed in float32 or float64 by librosa and cast to float64 exactly.
    """
    import librosa

    hop = cfg["hop_length"]
    n_frames = 1 + len(y) // hop
    kw = dict(n_fft=cfg["n_fft"], hop_length=hop, win_length=cfg["win_length"])
    power = np.abs(librosa.stft(y, **kw)) ** 2
    mel = librosa.feature.melspectrogram(S=power, sr=sr, n_mels=cfg["n_mels"])
    logmel = librosa.power_to_db(mel, ref=1.0, amin=1e-10)
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=cfg["n_mfcc"] + 1)[1:]
    width = min(9, n_frames if n_frames % 2 else n_frames - 1)
    delta = librosa.feature.delta(mfcc, width=width, mode="nearest")
    rms = librosa.feature.rms(y=y, frame_length=cfg["win_length"], hop_length=hop)
    rms_db = 20 * np.log10(np.maximum(rms, 1e-10))
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=cfg["win_length"], hop_length=hop)
    mag = np.sqrt(power)
    centroid = librosa.feature.spectral_centroid(S=mag, sr=sr)
    rolloff = librosa.feature.spectral_rolloff(S=mag, sr=sr, roll_percent=0.85)
    flatness = librosa.feature.spectral_flatness(S=mag, amin=1e-10)
    f0 = librosa.yin(y, fmin=cfg["fmin"], fmax=cfg["fmax"], sr=sr,
                     frame_length=cfg["f0_frame_length"], hop_length=hop)[None]
    voicing = _voicing(y, cfg, sr)[None]
    t = min(a.shape[1] for a in (mfcc, rms_db, zcr, f0, voicing))
    return np.concatenate([np.asarray(a[:, :t], np.float64)
                           for a in (mfcc, delta, logmel, rms_db, zcr, centroid, rolloff,
                                     flatness, f0, voicing)], axis=0)


def librosa_lld_matrix(audio: np.ndarray, sr: int, cfg: Mapping[str, Any] | None = None
                       ) -> np.ndarray:
    """The ``'librosa'`` LLDs of one recording, one row per LLD: float64 [59, frames].

    The low-level descriptors :func:`extract_librosa` summarises (see
    :mod:`seru.data.features` for the list; names and row order:
    :func:`~seru.data.features.stats.lld_names`, ``2 * n_mfcc + n_mels + 7``
    rows, 59 with the defaults), before any functional: frame ``i`` is
    centred at ``i * hop_length`` samples (``i * 10`` ms with the defaults;
    librosa's ``center=True``), ``frames = 1 + samples // hop_length`` at
    16 kHz (after resampling). Units: MFCCs and deltas unitless (deltas per
    frame), log-mel and RMS in dB, ZCR in crossings per sample [0, 1],
    centroid and roll-off in Hz, flatness in [0, 1], F0 in Hz (``librosa.yin``'s
    estimate in every frame, voiced or not), voicing in [0, 1].

    Args:
      audio: mono waveform [samples], float in [-1, 1]; resampled to 16 kHz
        (``librosa.resample``) first if ``sr`` differs.
      sr: its sample rate in Hz.
      cfg: the feature config; missing keys take
        :data:`~seru.data.features.config.DEFAULTS`.

    Returns:
      float64 [2 * n_mfcc + n_mels + 7, frames], finite for finite audio.

    Raises:
      ValueError: ``audio`` is not 1-d.
      SkipUtterance: ``too_short``, ``extractor_failed`` (non-finite
        samples), ``silent``, as :func:`extract_librosa`.
    """
    cfg = dict(DEFAULTS, **(cfg or {}))
    y, sr = _prepare(audio, sr, cfg)
    return _lld_rows(y, sr, cfg)


def extract_librosa(audio: np.ndarray, sr: int, cfg: Mapping[str, Any] | None = None
                    ) -> np.ndarray:
    """The ``'librosa'`` functional vector of one utterance.

    LLDs (:func:`librosa_lld_matrix`; see :mod:`seru.data.features` for the
    list) over 25 ms windows every 10 ms with the defaults, summarised by
    :func:`~seru.data.features.stats.functionals`; the F0 functionals
    only over voiced frames (voicing >= ``voicing_threshold``; all 0 with
    fewer than two voiced frames).

    Args:
      audio: mono waveform [samples], float in [-1, 1] (full scale = 0 dBFS);
        resampled to 16 kHz (``librosa.resample``) first if ``sr`` differs.
      sr: its sample rate in Hz.
      cfg: the feature config; missing keys take
        :data:`~seru.data.features.config.DEFAULTS`.

    Returns:
      float32 [(2 * n_mfcc + n_mels + 7) * 9] ([531] with the defaults), in
      the order of :func:`~seru.data.features.stats.feature_names`;
      all finite.

    Raises:
      ValueError: ``audio`` is not 1-d.
      SkipUtterance: ``too_short`` (shorter than one window or fewer than
        ``min_frames`` frames), ``extractor_failed`` (non-finite samples or
        functionals), ``silent`` (utterance RMS below ``silence_db`` dBFS).
    """
    cfg = dict(DEFAULTS, **(cfg or {}))
    y, sr = _prepare(audio, sr, cfg)
    lld = _lld_rows(y, sr, cfg)
    hop_s = cfg["hop_length"] / sr
    out = [functionals(lld[:-2], hop_s)]
    f0, voicing = lld[-2:-1], lld[-1:]
    voiced = voicing[0] >= cfg["voicing_threshold"]
    if voiced.sum() >= 2:
        out.append(functionals(f0[:, voiced], hop_s))
    else:
        out.append(np.zeros((1, len(FUNCTIONALS))))
    out.append(functionals(voicing, hop_s))
    vec = np.concatenate(out, axis=0).reshape(-1).astype(np.float32)
    if not np.all(np.isfinite(vec)):
        raise SkipUtterance("extractor_failed", "non-finite functionals")
    return vec
