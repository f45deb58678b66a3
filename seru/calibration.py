"""Calibration of a predicted spread: is ``N(m_hat, s_hat)`` honest about its errors?

A vocabulary module (numpy and scipy only, nothing of seru): the measures a regression with
a predicted standard deviation is judged by, whatever system made it.

* :func:`pit` -- probability integral transform ``Phi((y - m_hat) / s_hat)``: uniform on
  [0, 1] for a calibrated Gaussian prediction (Dawid 1984; Gneiting et al. 2007).
* :func:`quantile_calibration` -- observed coverage of the central intervals at nominal
  levels 10 % ... 90 % (Kuleshov et al. 2018's calibration curve for central intervals),
  and :func:`calibration_error`, the mean absolute gap between the two.
* :func:`ence` -- expected normalised calibration error (Levi et al. 2022, Eq. (8)):
  rows binned by ``s_hat``; per bin the root mean predicted variance (RMV) against the
  root mean squared error (RMSE); ``mean_b |RMV_b - RMSE_b| / RMV_b``.
* :func:`sharpness` -- mean width of the central interval at a level (Gneiting et al.).

The share of the individual raters' ratings inside an interval is
``seru.metrics.interval_coverage`` with a mask of the missing ratings.

Why our own code: these are a few lines of numpy each; the kept libraries that have them
(uncertainty-toolbox, properscoring) would add a dependency for that, and the tests check
every function against an independent oracle (scipy's normal distribution, a loop).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

LEVELS = tuple(np.round(np.arange(0.1, 1.0, 0.1), 2))


def _check(y, m_hat, s_hat):
    y, m_hat, s_hat = (np.asarray(a, np.float64) for a in (y, m_hat, s_hat))
    if not (y.shape == m_hat.shape == s_hat.shape):
        raise ValueError(f"y, m_hat and s_hat must have one shape, got {y.shape}, "
                         f"{m_hat.shape}, {s_hat.shape}")
    if np.any(s_hat < 0):
        raise ValueError("s_hat must be >= 0")
    return y, m_hat, s_hat


def pit(y, m_hat, s_hat, s_floor: float = 1e-6):
    """``Phi((y - m_hat) / max(s_hat, s_floor))`` per row, in [0, 1].

    ``y``, ``m_hat``, ``s_hat``: arrays of one shape (``s_hat`` >= 0, rating units).
    Raises ``ValueError`` for different shapes or a negative ``s_hat``.
    """
    y, m_hat, s_hat = _check(y, m_hat, s_hat)
    return norm.cdf((y - m_hat) / np.maximum(s_hat, s_floor))


def quantile_calibration(y, m_hat, s_hat, levels=LEVELS):
    """``(levels [L], observed [L])``: the share of rows whose ``y`` lies in the central
    ``level`` interval ``m_hat +- z_level s_hat`` of ``N(m_hat, s_hat)``, for each level in
    (0, 1). Computed from the PIT: inside iff ``|PIT - 0.5| <= level / 2``. Raises
    ``ValueError`` for a level outside (0, 1) or as :func:`pit`."""
    levels = np.asarray(levels, np.float64)
    if np.any((levels <= 0) | (levels >= 1)):
        raise ValueError(f"levels must lie in (0, 1), got {levels}")
    u = pit(y, m_hat, s_hat).ravel()
    inside = np.abs(u[None, :] - 0.5) <= levels[:, None] / 2
    return levels, inside.mean(axis=1)


def calibration_error(y, m_hat, s_hat, levels=LEVELS) -> float:
    """Mean ``|observed - nominal|`` over :func:`quantile_calibration`'s levels: 0 for a
    calibrated prediction, up to about 0.5; in [0, 1)."""
    levels, observed = quantile_calibration(y, m_hat, s_hat, levels)
    return float(np.mean(np.abs(observed - levels)))


def ence(y, m_hat, s_hat, bins: int = 10) -> float:
    """Expected normalised calibration error (Levi et al. 2022, Eq. (8)).

    Rows sorted by ``s_hat`` and cut into ``bins`` groups of (nearly) equal size; per
    group ``RMV = sqrt(mean s_hat^2)`` and ``RMSE = sqrt(mean (y - m_hat)^2)``; the result
    is ``mean |RMV - RMSE| / RMV`` over the groups (groups with ``RMV = 0`` left out).
    0 for a calibrated prediction; >= 0. Raises ``ValueError`` for ``bins < 1``, fewer
    rows than bins, or as :func:`pit`.
    """
    y, m_hat, s_hat = (a.ravel() for a in _check(y, m_hat, s_hat))
    if bins < 1 or y.size < bins:
        raise ValueError(f"ence: need bins >= 1 and at least {bins} rows, got {y.size}")
    order = np.argsort(s_hat, kind="stable")
    scores = []
    for part in np.array_split(order, bins):
        rmv = np.sqrt(np.mean(s_hat[part] ** 2))
        if rmv > 0:
            rmse = np.sqrt(np.mean((y[part] - m_hat[part]) ** 2))
            scores.append(abs(rmv - rmse) / rmv)
    return float(np.mean(scores)) if scores else float("nan")


def sharpness(s_hat, level: float = 0.9) -> float:
    """Mean width of the central ``level`` interval, ``2 z s_hat`` with ``z =
    Phi^-1((1 + level) / 2)`` (rating units; smaller is sharper)."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    return float(2 * norm.ppf((1 + level) / 2) * np.mean(np.asarray(s_hat, np.float64)))
