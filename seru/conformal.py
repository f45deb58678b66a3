"""Split-conformal prediction: intervals and class sets with finite-sample coverage.

A vocabulary module (numpy only, nothing of seru). Fitted on a calibration split (dev),
applied to another (test); the guarantee holds when calibration and test items are
exchangeable.

Regression (normalised scores, Lei et al. 2018 Sec. 5.2; Angelopoulos & Bates 2023, Sec. 2):
the score of a calibration row is ``|y - m_hat| / s_hat``; with ``q`` the
``ceil((n + 1)(1 - alpha))``-th smallest of the ``n`` scores (:func:`conformal_quantile`)
the interval ``m_hat +- q s_hat`` covers a new exchangeable row with probability at least
``1 - alpha`` (and at most ``1 - alpha + 1 / (n + 1)`` without ties).

Frames of one recording are not exchangeable with each other, but whole recordings may
be. :func:`recording_quantile` takes one frame per calibration recording (drawn at
random); the interval then covers a frame drawn at random from a new exchangeable
recording with probability at least ``1 - alpha`` -- a guarantee over recordings,
needing at least ``ceil(1 / alpha) - 1`` of them (9 at alpha = 0.1, 19 at 0.05), else ``q`` is
infinite. (Dunn, Wasserman & Ramdas 2022, Sec. 3: one observation per group.)

Classification, adaptive prediction sets (APS, Romano, Sesia & Candes 2020), without
randomisation: the score of an item is the total probability of the classes ranked at
or above its true class; the set of a new item is the smallest top-ranked set whose
total reaches ``q``. Mondrian (class-conditional, Vovk 2012): one ``q`` per true class,
from the calibration items of that class (:func:`mondrian_quantiles`, applied by
:func:`aps_sets`), so each class is covered at ``1 - alpha``.

Why our own code: the split-conformal quantile and APS are a few lines of numpy; the
kept libraries (MAPIE, crepes) wrap scikit-learn estimators, not predictions that seru
already made. The tests compare against numpy reference loops and coverage bounds.
"""

from __future__ import annotations

import math

import numpy as np

#: the smallest predicted spread a normalised score divides by
S_FLOOR = 1e-6


def conformal_quantile(scores, alpha: float) -> float:
    """The ``ceil((n + 1)(1 - alpha))``-th smallest of the ``n`` finite ``scores``
    (``inf`` when that rank exceeds ``n``). Raises ``ValueError`` for ``alpha`` outside
    (0, 1), no scores or a NaN score."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    s = np.sort(np.asarray(scores, np.float64).ravel())
    if s.size == 0 or np.isnan(s).any():
        raise ValueError("conformal_quantile needs at least one score and no NaN")
    rank = math.ceil((s.size + 1) * (1 - alpha))
    return float(s[rank - 1]) if rank <= s.size else math.inf


def normalised_scores(y, m_hat, s_hat, s_floor: float = S_FLOOR):
    """``|y - m_hat| / max(s_hat, s_floor)`` per row (arrays of one shape)."""
    y, m_hat, s_hat = (np.asarray(a, np.float64) for a in (y, m_hat, s_hat))
    if not (y.shape == m_hat.shape == s_hat.shape):
        raise ValueError(f"y, m_hat and s_hat must have one shape, got {y.shape}, "
                         f"{m_hat.shape}, {s_hat.shape}")
    return np.abs(y - m_hat) / np.maximum(s_hat, s_floor)


def interval(m_hat, s_hat, q: float):
    """``(lower, upper) = m_hat -+ q s_hat`` (``q`` from a calibration split)."""
    m_hat, s_hat = np.asarray(m_hat, np.float64), np.asarray(s_hat, np.float64)
    return m_hat - q * s_hat, m_hat + q * s_hat


def recording_quantile(scores_by_recording, alpha: float, rng) -> float:
    """:func:`conformal_quantile` of one score drawn at random from each calibration
    recording (``scores_by_recording``: a list of 1-d score arrays, ``rng`` a
    ``numpy.random.Generator``); see the module docstring for the guarantee. Raises
    ``ValueError`` for an empty recording or as :func:`conformal_quantile`."""
    picked = []
    for i, s in enumerate(scores_by_recording):
        s = np.asarray(s, np.float64).ravel()
        if s.size == 0:
            raise ValueError(f"recording {i} has no scores")
        picked.append(s[rng.integers(s.size)])
    return conformal_quantile(picked, alpha)


def _before(p):
    """``[N, K]``: for each class, the total probability of the classes ranked above it
    (decreasing probability; ties in class order, as ``argsort(kind='stable')``)."""
    order = np.argsort(-p, axis=1, kind="stable")
    sorted_p = np.take_along_axis(p, order, axis=1)
    out = np.empty_like(p)
    np.put_along_axis(out, order, np.cumsum(sorted_p, axis=1) - sorted_p, axis=1)
    return out


def _check_probs(probs, labels=None):
    p = np.asarray(probs, np.float64)
    if p.ndim != 2:
        raise ValueError(f"probs must be [N, K], got shape {p.shape}")
    if labels is None:
        return p, None
    y = np.asarray(labels, np.int64)
    if y.shape != (p.shape[0],) or (y.size and (y.min() < 0 or y.max() >= p.shape[1])):
        raise ValueError(f"labels must be [N] ints in [0, {p.shape[1]}), got shape {y.shape}")
    return p, y


def aps_scores(probs, labels):
    """APS score of each item: the total probability of the classes ranked above its
    true class plus the true class's own (``probs`` ``[N, K]`` rows summing to 1,
    ``labels`` ``[N]`` ints in [0, K)). Raises ``ValueError`` for other shapes."""
    p, y = _check_probs(probs, labels)
    rows = np.arange(len(y))
    return _before(p)[rows, y] + p[rows, y]


def aps_sets(probs, q):
    """Prediction sets ``[N, K]`` (bool): class ``c`` is in when the classes ranked above
    it total less than ``q`` -- the top-ranked classes until their total reaches ``q``
    (never empty). ``q``: a scalar, or ``[K]`` for Mondrian thresholds (one per
    candidate class). Covers the true class whenever its :func:`aps_scores` is <= ``q``."""
    p, _ = _check_probs(probs)
    q = np.asarray(q, np.float64)
    return _before(p) < (q[None, :] if q.ndim == 1 else q) - 1e-12


def aps_quantile(probs, labels, alpha: float) -> float:
    """The APS threshold of a calibration split (:func:`conformal_quantile` of
    :func:`aps_scores`)."""
    return conformal_quantile(aps_scores(probs, labels), alpha)


def mondrian_quantiles(probs, labels, alpha: float):
    """One APS threshold per class ``[K]``, from the calibration items whose true class
    it is (``inf`` for a class with too few of them); use with :func:`aps_sets`."""
    p, y = _check_probs(probs, labels)
    scores = aps_scores(p, y)
    return np.array([conformal_quantile(scores[y == c], alpha) if np.any(y == c)
                     else math.inf for c in range(p.shape[1])])
