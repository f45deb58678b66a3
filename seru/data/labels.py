"""Training targets computed from raw multi-annotator ratings.

Every corpus stores the raw ratings (see :mod:`seru.data.schema`); every method
derives its targets here, from config, so that one corpus serves all methods.

Conventions
-----------
* ``ratings`` has shape ``[..., annotators]``: the **last axis** holds the
  annotators, ``NaN`` marks a missing rating.
* For the estimators that need several items (:func:`ewe`,
  :func:`avec_gold_standard`) the **second-last axis** holds the *items*:
  the frames of one recording for continuous corpora (``[frames, annotators]``,
  correlations are taken along time, as in han17), or the utterances of a
  corpus / split for utterance corpora (``[utterances, annotators]``; this is
  only meaningful when a column is the same person for every utterance).
  Leading axes are batch axes and are treated independently.
* Functions marked *jnp-compatible* accept ``jax.numpy`` arrays and return
  ``jax`` arrays (they can run under ``jit``); the others are numpy only.
"""

from __future__ import annotations

from typing import Sequence

import jax
import numpy as np

from seru import metrics

__all__ = [
    "mean_rating", "num_raters", "rater_std", "ewe", "rater_reliability",
    "avec_gold_standard", "soft_labels", "soft_label_edges", "vote_pdf",
    "shift_labels", "delay_frames", "targets", "TARGET_KINDS",
    "fit_unit_scaling", "apply_unit_scaling", "invert_unit_scaling", "UNIT_SCALING_METHODS",
]

_EPS = 1e-12


def _xp(x):
    """numpy or jax.numpy, whichever ``x`` belongs to."""
    if type(x).__module__.startswith(("jax", "jaxlib")):
        import jax.numpy as jnp

        return jnp
    return np


def _asarray(x):
    xp = _xp(x)
    x = xp.asarray(x)
    if not xp.issubdtype(x.dtype, xp.floating):
        x = x.astype(xp.float32 if xp is not np else np.float64)
    return xp, x


# --------------------------------------------------------------------------- moments


def num_raters(ratings):
    """Number of non-missing ratings along the last (annotator) axis. jnp-compatible."""
    xp, r = _asarray(ratings)
    return xp.sum(~xp.isnan(r), axis=-1)


def mean_rating(ratings):
    """Mean over the available annotators (the MLE of Eq. (5) of han17, m of prabhu22).

    ``NaN`` where no annotator rated the item. jnp-compatible.
    """
    xp, r = _asarray(ratings)
    valid = ~xp.isnan(r)
    n = xp.sum(valid, axis=-1)
    s = xp.sum(xp.where(valid, r, 0.0), axis=-1)
    return xp.where(n > 0, s / xp.maximum(n, 1), xp.nan)


def rater_std(ratings, min_raters: int = 2, fill: float = 0.0):
    """Unbiased (N - 1) standard deviation of the annotators' ratings.

    Eq. (3) of prabhu22 / Eq. (6) of han17, the perception uncertainty
    ``s = sqrt(1 / (a - 1) * sum_i (y_i - m)^2)`` over the ``a`` available
    (non-NaN) ratings of an item.

    With fewer than ``min_raters`` (default and minimum 2) available ratings
    the unbiased estimator is undefined; such items get ``fill`` (default
    ``0.0``: "no disagreement observed", which keeps losses finite; pass
    ``fill=np.nan`` to mark them instead). jnp-compatible.
    """
    if min_raters < 2:
        raise ValueError(f"rater_std needs min_raters >= 2 (N - 1 estimator), got {min_raters}")
    xp, r = _asarray(ratings)
    valid = ~xp.isnan(r)
    n = xp.sum(valid, axis=-1)
    m = mean_rating(r)
    dev = xp.where(valid, r - m[..., None], 0.0)
    var = xp.sum(dev * dev, axis=-1) / xp.maximum(n - 1, 1)
    return xp.where(n >= min_raters, xp.sqrt(var), fill)


# --------------------------------------------------------------------------- EWE


def _masked_pearson(x, y, mask, axis):
    """Pearson correlation of x and y over the entries where ``mask`` holds.

    0 where fewer than two entries or a zero variance make it undefined.
    """
    n = np.sum(mask, axis=axis, keepdims=True)
    nn = np.maximum(n, 1)
    xm = np.sum(np.where(mask, x, 0.0), axis=axis, keepdims=True) / nn
    ym = np.sum(np.where(mask, y, 0.0), axis=axis, keepdims=True) / nn
    dx = np.where(mask, x - xm, 0.0)
    dy = np.where(mask, y - ym, 0.0)
    sxy = np.sum(dx * dy, axis=axis)
    sxx = np.sum(dx * dx, axis=axis)
    syy = np.sum(dy * dy, axis=axis)
    den = np.sqrt(sxx * syy)
    ok = (np.squeeze(n, axis) >= 2) & (den > _EPS)
    return np.where(ok, sxy / np.where(ok, den, 1.0), 0.0)


def rater_reliability(ratings, leave_one_out: bool = False):
    """Per-annotator reliability ``r_k`` of the EWE: Eqs. (2)-(5) of han17.

    ``ratings``: ``[..., items, annotators]``. ``r_k`` is the Pearson
    correlation, over the items, between annotator ``k``'s ratings and the
    reference: the mean of *all* annotators (the MLE of Eq. (5), han17) or,
    with ``leave_one_out=True``, the mean of the *other* annotators (the
    variant of audpsychometric's ``rater_agreement``). With missing ratings the
    correlation runs over the items where annotator ``k`` and the reference are
    both defined (pairwise complete; Eqs. (3)-(4) means are taken over the same
    items). An annotator whose correlation is undefined (fewer than two such
    items, or constant ratings) gets ``r_k = 0``. Returns ``[..., annotators]``.
    """
    r = np.asarray(ratings, dtype=np.float64)
    if r.ndim < 2:
        raise ValueError(
            f"rater_reliability needs [..., items, annotators] ratings, got shape {r.shape}"
        )
    valid = ~np.isnan(r)
    x = np.where(valid, r, 0.0)
    n = np.sum(valid, axis=-1, keepdims=True)  # [..., items, 1]
    s = np.sum(x, axis=-1, keepdims=True)
    if leave_one_out:
        n_ref = n - valid  # others' count, per (item, annotator)
        ref = (s - x) / np.maximum(n_ref, 1)
        mask = valid & (n_ref > 0)
    else:
        ref = np.broadcast_to(s / np.maximum(n, 1), r.shape)
        mask = valid
    return _masked_pearson(x, ref, mask, axis=-2)


def ewe(ratings, leave_one_out: bool = False, reliability=None):
    """Evaluator Weighted Estimator: Eq. (1) of han17 (weights from Eqs. (2)-(5)).

    ``E_n = sum_k r_k e_{n,k} / sum_k r_k`` with ``r_k`` from
    :func:`rater_reliability` (along the items axis ``-2``: the time axis of one
    recording for continuous ratings, the utterances for utterance ratings).
    ``leave_one_out=True`` correlates each annotator with the mean of the
    others, as ``audpsychometric.evaluator_weighted_estimator`` does; the
    default follows han17 (mean of all annotators, Eq. (5)).

    Missing ratings: the sums run over the annotators available at item ``n``
    (the weights are renormalised per item). Where those weights sum to
    ``<= 0`` (for instance with fewer than two annotators in total, so that no
    correlation is defined, or all available annotators anti-correlated) the
    EWE falls back to the plain mean of the item; items with no rating give
    ``NaN``. Pass a precomputed ``reliability`` (``[..., annotators]``) to
    weight new items with known annotator weights. Returns ``[..., items]``.
    """
    r = np.asarray(ratings, dtype=np.float64)
    w = rater_reliability(r, leave_one_out) if reliability is None else np.asarray(reliability)
    valid = ~np.isnan(r)
    wk = np.where(valid, w[..., None, :], 0.0)
    den = np.sum(wk, axis=-1)
    num = np.sum(wk * np.where(valid, r, 0.0), axis=-1)
    ok = den > _EPS
    return np.where(ok, num / np.where(ok, den, 1.0), mean_rating(r))


# --------------------------------------------------------------------------- AVEC


def _ccc_pair(x, y, mask):
    """Lin's CCC of x and y over ``mask`` along the last axis, float64 numpy.

    :func:`seru.metrics.ccc` with population moments (``ddof=0``), run with
    64-bit jax: masked elements are never read (NaN there is harmless), and
    the result is NaN for fewer than 2 common frames or a denominator that is
    0 up to round-off. The last axis is padded (masked out) to a power of two
    so that recordings of different lengths share compiled code (one
    compilation costs ~0.2 s).
    """
    x, y, mask = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64),
                                     np.asarray(mask, bool))
    t = x.shape[-1]
    pad = [(0, 0)] * (x.ndim - 1) + [(0, max(16, 1 << max(t - 1, 0).bit_length()) - t)]
    with jax.enable_x64(True):
        out = metrics.ccc(np.pad(x, pad), np.pad(y, pad), mask=np.pad(mask, pad), ddof=0)
    return np.asarray(out, np.float64)


def avec_gold_standard(ratings, return_weights: bool = False):
    """AVEC 2016/2018 gold standard by CCC-weighted centring of the annotators.

    ``ratings``: ``[..., frames, annotators]`` of one recording. The steps:

    1. per annotator ``k``, its mean over the frames ``mu_k`` (available frames);
    2. agreement ``a_k`` = mean over the other annotators ``j`` of Lin's
       ``CCC(y_k, y_j)`` (:func:`seru.metrics.ccc`, population moments, over
       the frames both rated); pairs with an undefined CCC (fewer than 2
       common frames, or both constant at the same value) are left out of
       the mean;
    3. weights ``w_k = a_k / sum_j a_j`` over the annotators with data; if the
       agreements are undefined (fewer than two annotators) or sum to ``<= 0``,
       uniform weights;
    4. each annotator centred, ``c_{t,k} = y_{t,k} - mu_k``; the gold standard
       is ``g_t = mean_k c_{t,k} + sum_k w_k mu_k``: the average centred
       trace, shifted to the agreement-weighted mean level.

    With one annotator this returns its ratings unchanged; frames without any
    rating give ``NaN``. ``return_weights=True`` also returns ``w``.
    """
    r = np.asarray(ratings, dtype=np.float64)
    if r.ndim < 2:
        raise ValueError(
            f"avec_gold_standard needs [..., frames, annotators] ratings, got shape {r.shape}"
        )
    valid = ~np.isnan(r)
    has = np.any(valid, axis=-2)  # [..., K]
    cnt = np.maximum(np.sum(valid, axis=-2), 1)
    mu = np.sum(np.where(valid, r, 0.0), axis=-2) / cnt  # [..., K]
    k = r.shape[-1]
    rt = np.moveaxis(r, -1, -2)  # [..., K, T]
    vt = ~np.isnan(rt)
    x = rt[..., :, None, :]
    y = rt[..., None, :, :]
    both = vt[..., :, None, :] & vt[..., None, :, :]
    ccc = _ccc_pair(x, y, both)  # [..., K, K]
    off = ~np.eye(k, dtype=bool)
    ccc = np.where(off, ccc, np.nan)
    defined = ~np.isnan(ccc)
    nd = np.sum(defined, axis=-1)
    agree = np.where(nd > 0, np.sum(np.where(defined, ccc, 0.0), axis=-1) / np.maximum(nd, 1), np.nan)
    agree = np.where(has, agree, np.nan)
    a = np.where(np.isnan(agree), 0.0, agree)
    tot = np.sum(a, axis=-1, keepdims=True)
    uniform = has / np.maximum(np.sum(has, axis=-1, keepdims=True), 1)
    use_a = (tot > _EPS) & np.all(~np.isnan(agree) | ~has, axis=-1, keepdims=True)
    w = np.where(use_a, a / np.where(tot > _EPS, tot, 1.0), uniform)
    centred = r - mu[..., None, :]
    g = mean_rating(centred) + np.sum(w * mu, axis=-1)[..., None]
    return (g, w) if return_weights else g


# --------------------------------------------------------------------------- distributions


def soft_label_edges(num_bins: int, low: float, high: float):
    """Edges of ``num_bins`` equal bins over ``[low, high]`` (``num_bins + 1`` values).

    For integer scales ``1..7`` use ``soft_label_edges(7, 0.5, 7.5)`` to get one
    bin per scale point.
    """
    return np.linspace(low, high, num_bins + 1)


def soft_labels(ratings, bins: Sequence[float], empty: str = "uniform"):
    """Soft label: normalised histogram of the annotators' ratings (sridhar21, Sec. III-A).

    sridhar21 "divid[es] the attribute space into bins, count[s] the number of
    votes in each bin, creating a probability distribution for each sentence".
    ``bins`` are the ``B + 1`` increasing edges (see :func:`soft_label_edges`);
    bins are half open ``[e_i, e_{i+1})`` except the last, which is closed (as
    ``np.histogram``). Ratings outside the edges are clipped into the first /
    last bin so that every vote counts. Missing (NaN) ratings are ignored.
    Items without any rating get ``empty``: ``"uniform"`` (default),
    ``"zeros"`` or ``"nan"``. Returns ``[..., B]``. jnp-compatible.
    """
    xp, r = _asarray(ratings)
    edges = xp.asarray(bins, dtype=r.dtype)
    nb = edges.shape[0] - 1
    if nb < 1:
        raise ValueError(f"soft_labels needs at least two bin edges, got {edges.shape[0]}")
    valid = ~xp.isnan(r)
    idx = xp.searchsorted(edges, xp.where(valid, r, edges[0]), side="right") - 1
    idx = xp.clip(idx, 0, nb - 1)
    onehot = (idx[..., None] == xp.arange(nb)) & valid[..., None]
    counts = xp.sum(onehot, axis=-2).astype(r.dtype)
    return _normalise(xp, counts, empty)


def _normalise(xp, counts, empty):
    tot = xp.sum(counts, axis=-1, keepdims=True)
    nb = counts.shape[-1]
    fills = {"uniform": 1.0 / nb, "zeros": 0.0, "nan": xp.nan}
    if empty not in fills:
        raise ValueError(f"empty must be one of {sorted(fills)}, got {empty!r}")
    return xp.where(tot > 0, counts / xp.where(tot > 0, tot, 1.0), fills[empty])


def vote_pdf(votes, empty: str = "uniform"):
    """Vote counts per class -> probability distribution: the targets of mitra25 (Sec. 3).

    mitra25 converts "grader decisions for categorical emotions ... to a pdf
    (reflecting the probability of each of the 9 emotions)": ``p_c = v_c /
    sum_c v_c`` over the last axis. Items with zero votes get ``empty``:
    ``"uniform"`` (default), ``"zeros"`` or ``"nan"``. Negative counts are an
    error (numpy input). jnp-compatible.
    """
    xp, v = _asarray(votes)
    if xp is np and np.any(v < 0):
        bad = np.argwhere(v < 0)[0]
        raise ValueError(f"vote_pdf: negative vote count {v[tuple(bad)]} at index {tuple(bad)}")
    return _normalise(xp, v, empty)


def plurality_class(votes) -> np.ndarray:
    """The class with the most votes per item, -1 where there is no unique one (a tie or
    no vote): the consensus label of categorical SER (MSP-Podcast's plurality rule; mitra25's
    consensus baseline).

    Args:
      votes: vote counts ``[..., K]`` (numpy, >= 0).

    Returns:
      int64 ``[...]`` in ``{-1, 0, ..., K-1}``.

    Raises:
      ValueError: a negative count.
    """
    v = np.asarray(votes)
    if np.any(v < 0):
        raise ValueError(f"plurality_class: negative vote count at index "
                         f"{tuple(np.argwhere(v < 0)[0])}")
    top = v.max(-1, keepdims=True) if v.shape[-1] else np.zeros(v.shape[:-1] + (1,))
    unique = ((v == top).sum(-1) == 1) & (top[..., 0] > 0)
    return np.where(unique, np.argmax(v, -1), -1).astype(np.int64)


# --------------------------------------------------------------------------- time


def delay_frames(delay_s: float, hop_s: float = 0.04) -> int:
    """Annotation delay in frames (an int >= 0 for ``delay_s >= 0``), ``delay_s`` and the
    frame hop ``hop_s`` in seconds (default: the corpora's 40 ms); e.g. han17's 4 s at
    40 ms -> 100 frames, at 100 ms -> 40."""
    return int(round(delay_s / hop_s))


def shift_labels(labels, n_frames: int, axis: int = 0):
    """Annotation delay compensation (han17, Sec. 4.2): shift labels back in time.

    The label at frame ``t + N`` moves to frame ``t``: ``out[t] = labels[t + N]``
    for ``t < T - N``; the last ``N`` frames repeat the last label
    ``labels[T - 1]``, so the length is unchanged. ``N = 0`` is the identity;
    ``N >= T`` gives ``T`` copies of the last label; a negative ``N`` shifts
    forward (``out[t] = labels[t - |N|]``, the start repeats ``labels[0]``).
    jnp-compatible (``n_frames`` must be a Python int).
    """
    xp = _xp(labels)
    x = xp.asarray(labels)
    t = x.shape[axis]
    n = int(n_frames)
    if t == 0 or n == 0:
        return x
    src = xp.clip(xp.arange(t) + n, 0, t - 1)
    return xp.take(x, src, axis=axis)


# --------------------------------------------------------------------------- scaling

UNIT_SCALING_METHODS = ("minmax", "z")


def _pooled(values, mask, axis):
    """Valid entries of one array or a list of per-recording arrays, as ``[N]`` (``axis=None``)
    or ``[N, D]`` (``axis=-1``)."""
    vs = list(values) if isinstance(values, (list, tuple)) else [values]
    if mask is None:
        ms = [None] * len(vs)
    else:
        ms = list(mask) if isinstance(mask, (list, tuple)) else [mask]
        if len(ms) != len(vs):
            raise ValueError(f"mask: expected {len(vs)} arrays (one per values array), got {len(ms)}")
    cols, oks = [], []
    for i, (v, m) in enumerate(zip(vs, ms)):
        v = np.asarray(v, dtype=np.float64)
        ok = ~np.isnan(v)
        if m is not None:
            m = np.asarray(m, dtype=bool)
            if m.shape != v.shape:
                raise ValueError(f"mask[{i}]: expected the shape {v.shape} of values[{i}], "
                                 f"got {m.shape}")
            ok &= m
        if axis is None:
            cols.append(v.reshape(-1))
            oks.append(ok.reshape(-1))
        else:
            if v.ndim < 1:
                raise ValueError(f"values[{i}]: axis=-1 needs arrays [..., D], got a scalar")
            cols.append(v.reshape(-1, v.shape[-1]))
            oks.append(ok.reshape(-1, v.shape[-1]))
    if axis is not None and len({c.shape[-1] for c in cols}) > 1:
        raise ValueError(f"values: the last axes differ: {sorted({c.shape[-1] for c in cols})}")
    return np.concatenate(cols, axis=0), np.concatenate(oks, axis=0)


def fit_unit_scaling(values, mask=None, method: str = "minmax", axis=None) -> dict:
    """Fit the han17 rescaling of a target on the training set (Sec. 4.1).

    What the paper says: "we performed z-normalisation to rescale the prediction
    uncertainty to the range of [0, 1]" -- applied to the perception uncertainty
    ``sigma`` (Eq. (6), :func:`rater_std`), not to the emotional state. The two
    halves contradict each other (a z-score has mean 0 and unit variance and is not
    bounded to ``[0, 1]``). Our reading, the default ``method="minmax"``: the range
    ``[0, 1]`` is what the text states as the result, so the training values are
    mapped affinely onto it, ``(v - min) / (max - min)`` with ``min`` / ``max`` over
    the valid training entries. ``method="z"`` is the literal z-normalisation,
    ``(v - mean) / std`` (population std, ``ddof=0``), for comparison. The paper
    does not say on which data the statistics are taken; they are fitted here on
    the training partition only and applied unchanged to dev / test (whose values
    may then fall slightly outside ``[0, 1]``; see ``clip`` of
    :func:`apply_unit_scaling`). Nothing here rescales E; pass it too if wanted.

    Args:
      values: an array of any shape, or a list of per-recording arrays (e.g. the
        ``[T]`` sigma traces of the training recordings). ``NaN`` entries are ignored.
      mask: optional, same structure and shapes as ``values``; ``True`` = use the entry.
      method: ``"minmax"`` (default) or ``"z"``.
      axis: ``None`` (default): one pair of statistics over all entries; ``-1``: one
        per entry of the last axis (e.g. ``[T, 2]`` arousal / valence columns).

    Returns:
      JSON-able ``{"method", "offset", "scale", "count"}``: the transform is
      ``(v - offset) / scale`` (minmax: ``offset = min``, ``scale = max - min``; z:
      ``offset = mean``, ``scale = std``); floats, or lists of ``D`` floats with
      ``axis=-1``; ``count`` = the number of valid entries used. A zero range / std
      (constant values) gives ``scale = 1.0``, so that the values map to 0.

    Raises:
      ValueError: ``method`` unknown; ``axis`` not ``None`` or ``-1``; ``mask`` not of
        the structure and shapes of ``values``; the last axes differ (``axis=-1``);
        no valid entry (in some column, for ``axis=-1``).
    """
    if method not in UNIT_SCALING_METHODS:
        raise ValueError(f"method must be one of {UNIT_SCALING_METHODS}, got {method!r}")
    if axis not in (None, -1):
        raise ValueError(f"axis must be None or -1, got {axis!r}")
    v, ok = _pooled(values, mask, axis)
    n = np.sum(ok, axis=0)
    if np.any(n == 0):
        raise ValueError("values: no valid (non-NaN, unmasked) entry to fit the scaling on"
                         + ("" if axis is None else f" in column(s) {np.flatnonzero(n == 0).tolist()}"))
    if method == "minmax":
        lo = np.min(np.where(ok, v, np.inf), axis=0)
        hi = np.max(np.where(ok, v, -np.inf), axis=0)
        offset, scale = lo, hi - lo
    else:
        offset = np.sum(np.where(ok, v, 0.0), axis=0) / n
        scale = np.sqrt(np.sum(np.where(ok, (v - offset) ** 2, 0.0), axis=0) / n)
    scale = np.where(scale > 0, scale, 1.0)
    return {"method": method, "offset": np.asarray(offset).tolist(),
            "scale": np.asarray(scale).tolist(), "count": np.asarray(n).tolist()}


def _scaling_stats(stats):
    try:
        method, offset, scale = stats["method"], stats["offset"], stats["scale"]
    except (KeyError, TypeError):
        raise ValueError("stats must be the dict of fit_unit_scaling (keys method, offset, "
                         f"scale), got {stats!r}") from None
    if method not in UNIT_SCALING_METHODS:
        raise ValueError(f"stats['method'] must be one of {UNIT_SCALING_METHODS}, got {method!r}")
    return method, offset, scale


def apply_unit_scaling(values, stats: dict, clip: bool = False):
    """Apply a scaling fitted by :func:`fit_unit_scaling`: ``(values - offset) / scale``.

    ``values``: any shape (with per-column statistics, the last axis has ``D``
    entries); ``NaN`` stays ``NaN``. ``clip=True`` (``"minmax"`` only) clips the
    result to ``[0, 1]``, for dev / test values outside the training range; the
    default leaves them, so that the transform stays invertible. jnp-compatible.

    Raises ``ValueError`` if ``stats`` is not such a dict, or ``clip`` is asked of
    a ``"z"`` scaling.
    """
    method, offset, scale = _scaling_stats(stats)
    if clip and method != "minmax":
        raise ValueError(f"clip=True needs a 'minmax' scaling, got {method!r}")
    xp, v = _asarray(values)
    out = (v - xp.asarray(offset, v.dtype)) / xp.asarray(scale, v.dtype)
    return xp.clip(out, 0.0, 1.0) if clip else out


def invert_unit_scaling(values, stats: dict):
    """Inverse of :func:`apply_unit_scaling` (without clipping): ``values * scale + offset``,
    e.g. predicted sigma back in rating units. jnp-compatible. Raises ``ValueError`` if
    ``stats`` is not a dict of :func:`fit_unit_scaling`."""
    _, offset, scale = _scaling_stats(stats)
    xp, v = _asarray(values)
    return v * xp.asarray(scale, v.dtype) + xp.asarray(offset, v.dtype)


# --------------------------------------------------------------------------- config entry


TARGET_KINDS = (
    "mean", "std", "num_raters", "ewe", "ewe_loo", "avec", "soft_labels", "vote_pdf",
)


def targets(ratings, kind: str, **kwargs):
    """Config-driven dispatch: the target ``kind`` computed from raw ``ratings``.

    ``kind`` is one of :data:`TARGET_KINDS`; ``kwargs`` go to the function:
    ``mean`` -> :func:`mean_rating`, ``std`` -> :func:`rater_std`,
    ``num_raters``, ``ewe`` / ``ewe_loo`` -> :func:`ewe` (``leave_one_out``
    False / True), ``avec`` -> :func:`avec_gold_standard`, ``soft_labels``
    (needs ``bins``), ``vote_pdf`` (``ratings`` are then vote counts).
    A ``shift=N`` keyword applies delay compensation (:func:`shift_labels`)
    to the result along its frame axis: the last axis of per-frame targets
    (``mean``, ``std``, ``ewe``, ...), the second-last of distributions
    (``soft_labels``, ``vote_pdf``).
    """
    shift = int(kwargs.pop("shift", 0))
    fns = {
        "mean": mean_rating,
        "std": rater_std,
        "num_raters": num_raters,
        "ewe": lambda r, **k: ewe(r, leave_one_out=False, **k),
        "ewe_loo": lambda r, **k: ewe(r, leave_one_out=True, **k),
        "avec": avec_gold_standard,
        "soft_labels": soft_labels,
        "vote_pdf": vote_pdf,
    }
    if kind not in fns:
        raise ValueError(f"unknown target kind {kind!r}; known: {', '.join(TARGET_KINDS)}")
    out = fns[kind](ratings, **kwargs)
    if shift:
        # frames are the axis just before the annotators in the input, i.e.
        # the last axis of per-item targets, the second-last of distributions.
        axis = -2 if kind in ("soft_labels", "vote_pdf") else -1
        out = shift_labels(out, shift, axis=axis)
    return out
