"""The ``'compare2016'`` feature set: openSMILE's 6,373 ComParE 2016 functionals,
and its 65 low-level descriptors (LLDs) per 10 ms frame.

Wraps the ``opensmile`` Python package, an optional extra with a
research-only licence (``pip install seru[opensmile]``); sridhar21 Sec.
III-B uses the functionals, han17 Sec. 4.1 windowed functionals of the LLDs
(:mod:`seru.data.features.frame_functionals`).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from seru.data.features.config import DEFAULTS, SAMPLE_RATE, SkipUtterance

_SMILE = None  # the opensmile.Smile, built on first use (it loads a config)
_SMILE_LLD = None  # the same for the LowLevelDescriptors level

#: Number of ComParE 2016 LLDs (``FeatureLevel.LowLevelDescriptors``).
NUM_COMPARE_LLDS = 65


def _import_opensmile():
    try:
        import opensmile
    except ImportError as e:  # pragma: no cover - optional extra
        raise ImportError("features.name='compare2016' needs the optional `opensmile` "
                          "package (research-only licence): pip install seru[opensmile]") from e
    return opensmile


def _checks(y: np.ndarray, sr: int, cfg: Mapping[str, Any]) -> None:
    n_frames = 1 + len(y) * SAMPLE_RATE // max(sr, 1) // cfg["hop_length"]
    if n_frames < cfg["min_frames"]:
        raise SkipUtterance("too_short", f"{len(y)} samples < min_frames={cfg['min_frames']}")
    rms_all = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    if rms_all <= 0 or 20 * np.log10(rms_all) < cfg["silence_db"]:
        raise SkipUtterance("silent", f"RMS {rms_all:.3g} below {cfg['silence_db']} dBFS")


def extract_compare2016(audio: np.ndarray, sr: int, cfg: Mapping[str, Any] | None = None
                        ) -> np.ndarray:
    """The 6,373 ComParE 2016 functionals (openSMILE) of one utterance, sridhar21 Sec. III-B.

    Args:
      audio: mono waveform [samples], float in [-1, 1]; openSMILE resamples
        internally as its config requires.
      sr: its sample rate in Hz.
      cfg: the feature config (``hop_length``, ``min_frames``, ``silence_db``
        are used for the skip checks); missing keys take
        :data:`~seru.data.features.config.DEFAULTS`.

    Returns:
      float32 [6373] in openSMILE's column order
      (``opensmile.Smile.feature_names``), all finite.

    Raises:
      ImportError: the ``opensmile`` package is not installed.
      SkipUtterance: ``too_short`` (fewer than ``min_frames`` 10 ms frames at
        16 kHz), ``silent`` (RMS below ``silence_db`` dBFS),
        ``extractor_failed`` (non-finite functionals).
    """
    global _SMILE
    opensmile = _import_opensmile()
    cfg = dict(DEFAULTS, **(cfg or {}))
    y = np.asarray(audio, np.float32)
    _checks(y, sr, cfg)
    if _SMILE is None:
        _SMILE = opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                                 feature_level=opensmile.FeatureLevel.Functionals)
    vec = np.asarray(_SMILE.process_signal(y, sr).values, np.float32).reshape(-1)
    if not np.all(np.isfinite(vec)):
        raise SkipUtterance("extractor_failed", "non-finite functionals")
    return vec


def compare2016_lld_matrix(audio: np.ndarray, sr: int, cfg: Mapping[str, Any] | None = None
                           ) -> np.ndarray:
    """The 65 ComParE 2016 LLDs (openSMILE) of one recording: float64 [65, frames].

    ``opensmile.Smile(FeatureSet.ComParE_2016, FeatureLevel.LowLevelDescriptors)``
    (the LLD set of the ComParE challenges, han17 Sec. 4.1): spectral
    (RASTA-filtered auditory bands 1-26, energies, slope, sharpness, centroid,
    ...), cepstral (MFCC 1-14), prosodic (loudness, RMS energy, ZCR, F0 by
    subharmonic summation, 0 where unvoiced) and voice-quality (voicing
    probability, jitter, shimmer, HNR) descriptors, smoothed by openSMILE's
    3-frame moving average (``_sma``), 20 or 60 ms windows at a 10 ms step.
    Frame ``i`` starts at ``i * 10`` ms (openSMILE's ``start`` index); rows
    in openSMILE's column order (``Smile.feature_names``).

    Args:
      audio: mono waveform [samples], float in [-1, 1]; openSMILE resamples
        internally as its config requires.
      sr: its sample rate in Hz.
      cfg: the feature config (``hop_length``, ``min_frames``, ``silence_db``
        for the skip checks); missing keys take
        :data:`~seru.data.features.config.DEFAULTS`.

    Returns:
      float64 [65, frames], all finite.

    Raises:
      ImportError: the ``opensmile`` package is not installed.
      ValueError: ``audio`` is not 1-d.
      SkipUtterance: ``too_short``, ``silent`` as :func:`extract_compare2016`;
        ``extractor_failed`` (non-finite LLDs, or not 65 of them).
    """
    global _SMILE_LLD
    opensmile = _import_opensmile()
    cfg = dict(DEFAULTS, **(cfg or {}))
    y = np.asarray(audio, np.float32)
    if y.ndim != 1:
        raise ValueError(f"audio must be mono [samples], got shape {y.shape}")
    _checks(y, sr, cfg)
    if _SMILE_LLD is None:
        _SMILE_LLD = opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                                     feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
    lld = np.asarray(_SMILE_LLD.process_signal(y, sr).values, np.float64).T
    if lld.shape[0] != NUM_COMPARE_LLDS or not np.all(np.isfinite(lld)):
        raise SkipUtterance("extractor_failed", f"LLDs of shape {lld.shape}, or non-finite")
    return lld
