"""Calibration of a predicted uncertainty: is ``N(m_hat, s_hat)`` honest about its errors,
and does an uncertainty rank the rows by how wrong they are?

A vocabulary module (numpy, scipy and ``seru.metrics`` only): the measures a prediction with
an uncertainty is judged by, whatever system made it.

* :func:`pit` -- probability integral transform ``Phi((y - m_hat) / s_hat)``: uniform on
  [0, 1] for a calibrated Gaussian prediction (Dawid 1984; Gneiting et al. 2007).
* :func:`quantile_calibration` -- observed coverage of the central intervals at nominal
  levels 10 % ... 90 % (Kuleshov et al. 2018's calibration curve for central intervals),
  and :func:`calibration_error`, the mean absolute gap between the two.
* :func:`ence` -- expected normalised calibration error (Levi et al. 2022, Eq. (8)):
  rows binned by ``s_hat``; per bin the root mean predicted variance (RMV) against the
  root mean squared error (RMSE); ``mean_b |RMV_b - RMSE_b| / RMV_b``.
* :func:`sharpness` -- mean width of the central interval at a level (Gneiting et al.).

* :func:`reject_curve` -- a metric (CCC, UAR, any ``metric(y, pred, keep)``) on the most
  certain fraction of the rows at each coverage of a grid (the reject option of sridhar21
  Fig. 3, on a finer grid), :func:`reject_area` -- its normalised area, and
  :func:`oracle_error` -- each row's own error, the uncertainty of the best ordering the
  curve is compared with (the oracle of the selective-prediction literature, e.g. Malinin
  et al. 2019's prediction rejection ratio). For any method that predicts an uncertainty:
  a std, an entropy, a conformal width.

The share of the individual raters' ratings inside an interval is
``seru.metrics.interval_coverage`` with a mask of the missing ratings.

Why our own code: these are a few lines of numpy each; the kept libraries that have them
(uncertainty-toolbox, properscoring) would add a dependency for that, and the tests check
every function against an independent oracle (scipy's normal distribution, a loop).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from seru import metrics

LEVELS = tuple(np.round(np.arange(0.1, 1.0, 0.1), 2))
#: the coverage grid of :func:`reject_curve`: 10 %, 20 %, ..., 100 % of the rows kept
COVERAGES = tuple(np.round(np.arange(0.1, 1.01, 0.1), 2))


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
    from scipy.stats import norm  # scipy loads when scoring starts, not before prediction

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
    from scipy.stats import norm

    return float(2 * norm.ppf((1 + level) / 2) * np.mean(np.asarray(s_hat, np.float64)))


# ---------------------------------------------------------------------------
# Reject option: a metric on the most certain rows, its area, the oracle ordering
# ---------------------------------------------------------------------------


def ccc_metric(y, pred, keep) -> float:
    """CCC of the kept rows, :func:`seru.metrics.ccc` (population variances, ``ddof=0``):
    the default ``metric`` of :func:`reject_curve` for a regression.

    ``y``, ``pred``: ``[N]`` float; ``keep``: ``[N]`` bool. In [-1, 1]; NaN for fewer than 2
    kept rows or a zero denominator (as :func:`seru.metrics.ccc`).
    """
    return float(metrics.ccc(y, pred, mask=keep))


def uar_metric(num_classes: int) -> Callable[..., float]:
    """``metric(y, pred, keep) -> UAR`` of the kept rows (:func:`seru.metrics.uar`, mitra25's
    metric, audmetric's class convention), for :func:`reject_curve` on class labels.

    The returned function takes integer labels ``y``, ``pred`` ``[N]`` in
    ``[0, num_classes)`` and ``keep`` ``[N]`` bool; its value lies in [0, 1], NaN with no
    kept row; it raises ``ValueError`` for labels out of range or not integer.
    """
    def uar(y, pred, keep) -> float:
        return float(metrics.uar(y, pred, num_classes, mask=keep))

    return uar


def _reject_check(y, pred, uncertainty, coverages):
    u = np.asarray(uncertainty, np.float64)
    n = u.shape[0] if u.ndim == 1 else -1
    if u.ndim != 1 or np.shape(y)[:1] != (n,) or np.shape(pred)[:1] != (n,):
        raise ValueError(f"reject_curve: uncertainty must be [N] and y, pred [N, ...], got "
                         f"{u.shape}, {np.shape(y)}, {np.shape(pred)}")
    if np.any(np.isnan(u)):
        raise ValueError("reject_curve: the uncertainty holds NaN")
    c = np.asarray(coverages, np.float64)
    if c.ndim != 1 or c.size < 1 or np.any((c <= 0) | (c > 1)) or np.any(np.diff(c) <= 0):
        raise ValueError(f"reject_curve: coverages must be increasing fractions in (0, 1], "
                         f"got {coverages}")
    return u, c


def reject_curve(y, pred, uncertainty, metric: Callable[..., float] = ccc_metric,
                 coverages=COVERAGES) -> np.ndarray:
    """A metric on the most certain fraction ``c`` of the rows, for each coverage ``c``.

    The reject option (sridhar21 Sec. V-B, Fig. 3; Geifman and El-Yaniv 2017's
    risk-coverage curve with a score instead of a risk): the rows are ranked by
    ``uncertainty``, ascending, **ties broken by row order** (a stable sort: of two rows
    with equal uncertainty the earlier is kept first), and at coverage ``c`` the first
    ``k = max(1, round(c N))`` rows are kept (Python's ``round``, half to even, as
    :func:`seru.metrics.reject_curve`, whose CCC curve this reproduces where ``k >= 1``).

    Args:
      y: ``[N, ...]`` targets (ratings; class labels).
      pred: ``[N, ...]`` predictions (the predicted mean; the predicted class).
      uncertainty: ``[N]`` float, larger = less certain (a std, an entropy, an interval
        width); any scale, only its order counts. For the oracle pass
        :func:`oracle_error`.
      metric: ``metric(y, pred, keep) -> float`` with ``keep`` ``[N]`` bool, the kept rows
        (:func:`ccc_metric`, the default; :func:`uar_metric`); a mask rather than a slice
        so that a jitted metric compiles once for every coverage.
      coverages: increasing fractions in (0, 1] (default :data:`COVERAGES`, 0.1 ... 1.0).

    Returns:
      ``[C]`` float64, the metric at each coverage (NaN where the metric is undefined).

    Raises:
      ValueError: shapes that do not match, a NaN uncertainty, or coverages outside
        (0, 1] or not increasing.
    """
    u, c = _reject_check(y, pred, uncertainty, coverages)
    n = u.size
    rank = np.empty(n, np.int64)
    rank[np.argsort(u, kind="stable")] = np.arange(n)
    return np.array([metric(y, pred, rank < max(1, round(float(x) * n))) for x in c],
                    np.float64)


def curve_area(coverages, values) -> float:
    """The area under a curve over coverage, normalised by the span of the coverage grid:
    ``trapezoid(values, coverages) / (coverages[-1] - coverages[0])``, the mean height of the
    piecewise-linear curve, in the metric's units (a constant curve has its value as area).

    ``coverages``: ``[C]`` increasing, ``C >= 2``; ``values``: ``[C]``. NaN if any value is
    NaN. Raises ``ValueError`` for fewer than 2 points, mismatched lengths or coverages that
    do not increase.
    """
    c = np.asarray(coverages, np.float64)
    v = np.asarray(values, np.float64)
    if c.ndim != 1 or c.shape != v.shape or c.size < 2 or np.any(np.diff(c) <= 0):
        raise ValueError(f"curve_area: need >= 2 increasing coverages and one value each, got "
                         f"{c.shape} and {v.shape}")
    return float(np.sum(np.diff(c) * (v[1:] + v[:-1]) / 2) / (c[-1] - c[0]))


def reject_area(y, pred, uncertainty, metric: Callable[..., float] = ccc_metric,
                coverages=COVERAGES) -> float:
    """The normalised area under :func:`reject_curve` (trapezoid over the coverage grid,
    divided by its span, :func:`curve_area`): the mean metric over coverages 10-100 % for
    the default grid. Larger is better for a metric that is (CCC, UAR); compare it with the
    same area for :func:`oracle_error` (the best ordering) and with the metric on all rows
    (an uninformative ordering, in expectation).

    Arguments as :func:`reject_curve` (at least 2 coverages). Returns a float in the metric's
    range; NaN if the metric is NaN at any coverage. Raises ``ValueError`` as
    :func:`reject_curve` and :func:`curve_area`.
    """
    return curve_area(coverages, reject_curve(y, pred, uncertainty, metric, coverages))


def oracle_error(y, pred) -> np.ndarray:
    """Each row's own error, the uncertainty of the oracle ordering: ``[N]`` float64.

    ``|y - pred|`` (rating units) for float data; for integer class labels (both arrays of
    an integer dtype) 1.0 for a miss and 0.0 for a hit, so that every hit is kept before any
    miss (ties by row order, as :func:`reject_curve`). ``reject_curve(y, pred,
    oracle_error(y, pred), metric)`` is the oracle curve. It minimises the mean error at
    every coverage; for CCC and UAR it is the customary reference (the kept rows are the
    best-predicted ones), near but not always exactly the highest curve possible. Extra
    axes (``[N, D]``) are averaged. Raises ``ValueError`` for shapes that differ.
    """
    y, pred = np.asarray(y), np.asarray(pred)
    if y.shape != pred.shape or y.ndim < 1:
        raise ValueError(f"oracle_error: y {y.shape} and pred {pred.shape} must have one shape")
    if np.issubdtype(y.dtype, np.integer) and np.issubdtype(pred.dtype, np.integer):
        err = (y != pred).astype(np.float64)
    else:
        err = np.abs(y.astype(np.float64) - pred.astype(np.float64))
    return err.reshape(err.shape[0], -1).mean(1)
