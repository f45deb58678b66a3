"""Utterance-level training targets from the raw ratings of a cached split."""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np

log = logging.getLogger(__name__)


def utterance_targets(ratings: np.ndarray, rating_range: Sequence[float], num_bins: int = 7):
    """``(consensus, soft, has_rating)`` of ratings [N, A] (NaN = missing).

    consensus: float32 [N], :func:`seru.data.labels.mean_rating` mapped
    linearly from ``rating_range`` to [-1, 1] (0 where unrated); soft:
    float32 [N, num_bins], :func:`seru.data.labels.soft_labels` over
    ``num_bins`` equal bins spanning ``rating_range`` (sridhar21 Sec. III-A;
    uniform where unrated; rows sum to 1); has_rating: bool [N], at least one
    rating.

    Raises:
      ValueError: ``rating_range`` is not ``[low, high]`` with ``low < high``.
    """
    from seru.data import labels

    lo, hi = float(rating_range[0]), float(rating_range[1])
    if not hi > lo:
        raise ValueError(f"rating_range must be [low, high] with low < high, got {rating_range}")
    r = np.asarray(ratings, np.float64)
    has = labels.num_raters(r) > 0
    m = np.asarray(labels.mean_rating(r))
    consensus = np.where(has, 2.0 * (m - lo) / (hi - lo) - 1.0, 0.0)
    soft = np.asarray(labels.soft_labels(r, labels.soft_label_edges(num_bins, lo, hi)))
    return consensus.astype(np.float32), soft.astype(np.float32), has


def assemble_split(data: Mapping[str, np.ndarray], dimensions: Sequence[str],
                   rating_range: Sequence[float], num_bins: int, labeled: bool
                   ) -> tuple[dict, int]:
    """Targets of one cached split; labeled splits drop unrated utterances.

    Args:
      data: the arrays of :func:`~seru.data.features.extraction.cached_features`
        (``ids``, ``speakers``, ``genders``, ``features`` [N, F],
        ``ratings_<dim>`` [N, A_dim] for each of ``dimensions``).
      dimensions: the D dimensions to predict.
      rating_range, num_bins: as in :func:`utterance_targets`.
      labeled: drop utterances with no rating of any dimension.

    Returns:
      ``(arrays, num_unrated_dropped)``; arrays over the M kept utterances:
      ``ids``, ``speakers``, ``genders`` [M], ``features`` [M, F] (raw),
      ``consensus`` float32 [M, D] in [-1, 1], ``soft`` float32 [M, D,
      num_bins], ``label_mask`` float32 [M, D] (1 = rated), ``ratings`` [M, D,
      A] (raw scale, NaN padded to the most ratings A of any dimension),
      ``num_raters`` float32 [M, D], ``std`` float32 [M, D] (unbiased rater
      std on the raw scale, 0 with fewer than two raters;
      :func:`seru.data.labels.rater_std`).

    Raises:
      KeyError: ``data`` lacks ``ratings_<dim>`` of a dimension.
      ValueError: a bad ``rating_range`` (:func:`utterance_targets`).
    """
    from seru.data import labels

    n = len(data["ids"])
    cons, soft, has, rat = [], [], [], []
    a_max = max([data[f"ratings_{d}"].shape[1] for d in dimensions] + [1])
    for d in dimensions:
        r = data[f"ratings_{d}"]
        r = np.pad(r, ((0, 0), (0, a_max - r.shape[1])), constant_values=np.nan)
        c, s, h = utterance_targets(r, rating_range, num_bins)
        cons.append(c), soft.append(s), has.append(h), rat.append(r)
    consensus = np.stack(cons, 1) if n else np.zeros((0, len(dimensions)), np.float32)
    soft = np.stack(soft, 1) if n else np.zeros((0, len(dimensions), num_bins), np.float32)
    has = np.stack(has, 1) if n else np.zeros((0, len(dimensions)), bool)
    ratings = np.stack(rat, 1) if n else np.zeros((0, len(dimensions), a_max), np.float32)
    keep = has.any(1) if labeled else np.ones(n, bool)
    out = {"ids": data["ids"][keep], "speakers": data["speakers"][keep],
           "genders": data["genders"][keep], "features": data["features"][keep],
           "consensus": consensus[keep], "soft": soft[keep],
           "label_mask": has[keep].astype(np.float32), "ratings": ratings[keep],
           "num_raters": np.asarray(labels.num_raters(ratings[keep]), np.float32),
           "std": np.asarray(labels.rater_std(ratings[keep], min_raters=2, fill=0.0),
                             np.float32).reshape(-1, len(dimensions))}
    dropped = int((~keep).sum())
    if dropped:
        log.warning("dropped %d unrated utterances", dropped)
    return out, dropped
