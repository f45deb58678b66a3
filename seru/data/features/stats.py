"""Utterance functionals: 9 statistics of each low-level descriptor (LLD) over time, and
the names of the ``'librosa'`` feature vector.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from seru.data.features.config import DEFAULTS

#: The functionals, in the order of :func:`functionals`' columns.
FUNCTIONALS = ("mean", "std", "skew", "kurtosis", "p01", "p50", "p99", "range", "slope")


def functionals(lld: np.ndarray, hop_s: float) -> np.ndarray:
    """The 9 :data:`FUNCTIONALS` of each row of ``lld`` [num_llds, frames] -> [num_llds, 9].

    Args:
      lld: [num_llds, frames], any real values (cast to float64); at least
        one frame.
      hop_s: the frame step in seconds (> 0), the time unit of the slope.

    Returns:
      float64 [num_llds, 9]: mean, standard deviation, skewness, excess
      kurtosis, 1st / 50th / 99th percentile, range (max - min), all in the
      unit of the LLD (skewness and kurtosis unitless), and the slope in LLD
      units per second.

    Moments are population moments (as ``scipy.stats.skew`` / ``kurtosis``
    with ``bias=True``, excess kurtosis); a constant row (variance <= 1e-12 *
    max(1, mean^2)) has skewness and kurtosis 0. Percentiles use linear
    interpolation (numpy's default). The slope is the least-squares slope
    against time (as ``np.polyfit`` degree 1); 0 for a single frame.

    Raises:
      IndexError: ``lld`` is not 2-d or has no frame (from numpy).
    """
    x = np.asarray(lld, np.float64)
    n = x.shape[1]
    mean = x.mean(1)
    c = x - mean[:, None]
    var = (c**2).mean(1)
    std = np.sqrt(var)
    ok = var > 1e-12 * np.maximum(1.0, mean**2)
    safe = np.where(ok, var, 1.0)
    skew = np.where(ok, (c**3).mean(1) / safe**1.5, 0.0)
    kurt = np.where(ok, (c**4).mean(1) / safe**2 - 3.0, 0.0)
    p01, p50, p99 = np.percentile(x, [1, 50, 99], axis=1)
    rng = x.max(1) - x.min(1)
    t = np.arange(n) * hop_s
    tc = t - t.mean()
    denom = (tc**2).sum()
    slope = (c * tc).sum(1) / denom if denom > 0 else np.zeros_like(mean)
    return np.stack([mean, std, skew, kurt, p01, p50, p99, rng, slope], axis=1)


def lld_names(cfg: Mapping[str, Any] | None = None) -> list[str]:
    """Names of the ``'librosa'`` LLDs, in the row order of the extractor.

    ``cfg``: the feature config (only ``n_mfcc`` and ``n_mels`` matter; missing
    keys take :data:`~seru.data.features.config.DEFAULTS`). Returns
    ``2 * n_mfcc + n_mels + 7`` names (59 with the defaults): ``mfcc<i>``,
    ``mfcc<i>_delta`` (i = 1..n_mfcc), ``logmel<j>`` (j = 0..n_mels-1),
    ``rms_db``, ``zcr``, ``centroid``, ``rolloff``, ``flatness``, ``f0``,
    ``voicing``. Raises nothing.
    """
    cfg = dict(DEFAULTS, **(cfg or {}))
    names = [f"mfcc{i}" for i in range(1, cfg["n_mfcc"] + 1)]
    names += [f"mfcc{i}_delta" for i in range(1, cfg["n_mfcc"] + 1)]
    names += [f"logmel{i}" for i in range(cfg["n_mels"])]
    names += ["rms_db", "zcr", "centroid", "rolloff", "flatness", "f0", "voicing"]
    return names


def feature_names(cfg: Mapping[str, Any] | None = None) -> list[str]:
    """Names of the ``'librosa'`` functionals, ``<lld>_<functional>``, in vector order.

    ``len(lld_names(cfg)) * 9`` names (531 with the defaults), LLD-major:
    ``mfcc1_mean, mfcc1_std, ..., voicing_slope``. Raises nothing.
    """
    return [f"{l}_{f}" for l in lld_names(cfg) for f in FUNCTIONALS]
