"""The ``'compare2016'`` feature set: openSMILE's 6,373 ComParE 2016 functionals.

Wraps the ``opensmile`` Python package, an optional extra with a
research-only licence (``pip install seru[opensmile]``); sridhar21 Sec.
III-B uses this set.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from seru.data.features.config import DEFAULTS, SAMPLE_RATE, SkipUtterance

_SMILE = None  # the opensmile.Smile, built on first use (it loads a config)


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
    try:
        import opensmile
    except ImportError as e:  # pragma: no cover - optional extra
        raise ImportError("features.name='compare2016' needs the optional `opensmile` "
                          "package (research-only licence): pip install seru[opensmile]") from e
    cfg = dict(DEFAULTS, **(cfg or {}))
    y = np.asarray(audio, np.float32)
    n_frames = 1 + len(y) * SAMPLE_RATE // max(sr, 1) // cfg["hop_length"]
    if n_frames < cfg["min_frames"]:
        raise SkipUtterance("too_short", f"{len(y)} samples < min_frames={cfg['min_frames']}")
    rms_all = float(np.sqrt(np.mean(np.square(y, dtype=np.float64))))
    if rms_all <= 0 or 20 * np.log10(rms_all) < cfg["silence_db"]:
        raise SkipUtterance("silent", f"RMS {rms_all:.3g} below {cfg['silence_db']} dBFS")
    if _SMILE is None:
        _SMILE = opensmile.Smile(feature_set=opensmile.FeatureSet.ComParE_2016,
                                 feature_level=opensmile.FeatureLevel.Functionals)
    vec = np.asarray(_SMILE.process_signal(y, sr).values, np.float32).reshape(-1)
    if not np.all(np.isfinite(vec)):
        raise SkipUtterance("extractor_failed", "non-finite functionals")
    return vec
