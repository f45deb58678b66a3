"""Metrics on predicted class distributions (numpy, float64; not jit-ed).

The categorical evaluation of mitra25 (UAR, macro-F1, k-best hypotheses,
paUAR per speaker and gender, Figs. 4-5), the calibration of a predicted
distribution against the graders' votes (ECE, Brier, KL, Jensen-Shannon), and
the predicted entropy as a ranking of the graders' disagreement
(:func:`spearman_entropy_votes`).
The UAR family itself (:func:`seru.metrics.uar`, :func:`~seru.metrics.pa_uar`,
:func:`~seru.metrics.kbest_predictions`) lives in ``seru/metrics.py``; this
module builds on it and re-implements none of it.

Conventions
-----------
* **Shapes.** ``probs`` is ``[N, K]``: N rows (utterances), K classes, each
  row non-negative and summing to 1 (within ``PROB_ATOL``; rows are used as
  given, not renormalised). A *target* is either integer class labels ``[N]``
  in ``[0, K)`` (the consensus) or a distribution ``[N, K]`` (the vote PDF,
  :func:`seru.data.labels.vote_pdf`). Rows to leave out (no consensus,
  padding) are indexed away by the caller: there are no masks here.
* **Classes that count** in UAR and macro-F1: audmetric's convention with
  inferred labels -- every class seen in the targets or the predictions; a
  class predicted but never true scores 0.
* **Logarithms** are natural (nats).
* **Errors.** Shape mismatches, labels outside ``[0, K)``, negative or
  non-normalised probabilities and non-positive bin counts raise ``ValueError``.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from seru import metrics

__all__ = [
    "PROB_ATOL", "KL_EPS", "macro_f1", "reliability_bins", "top_label_ece", "classwise_ece",
    "brier", "kl_divergence", "js_divergence", "top_hypotheses", "confusion",
    "group_uar", "kbest_pa_uar", "kbest_pa_uar_by_group", "class_shares", "entropy",
    "spearman_entropy_votes",
]

#: tolerance on ``sum_k p_k = 1`` (float32 softmax outputs are off by ~1e-7)
PROB_ATOL = 1e-3
#: floor of the predicted probabilities inside :func:`kl_divergence`
KL_EPS = 1e-12


# ---------------------------------------------------------------------------
# input checks
# ---------------------------------------------------------------------------


def _probs(name: str, p, ndim: int = 2) -> np.ndarray:
    p = np.asarray(p, np.float64)
    if p.ndim != ndim:
        raise ValueError(f"{name}: expected probabilities of {ndim} dimensions "
                         f"({'[N, K]' if ndim == 2 else '[K]'}), got shape {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"{name}: probabilities must be finite and >= 0")
    s = p.sum(-1)
    bad = np.flatnonzero(np.abs(np.ravel(s) - 1.0) > PROB_ATOL)
    if bad.size:
        raise ValueError(f"{name}: rows must sum to 1 (+-{PROB_ATOL}); row {int(bad[0])} "
                         f"sums to {float(np.ravel(s)[bad[0]]):.6g} ({bad.size} bad row(s))")
    return p


def _labels(name: str, y, n: int | None = None, num_classes: int | None = None) -> np.ndarray:
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"{name}: expected integer class labels, got dtype {y.dtype}")
    if y.ndim != 1 or (n is not None and y.shape[0] != n):
        raise ValueError(f"{name}: expected labels [N]{'' if n is None else f' with N = {n}'}, "
                         f"got shape {y.shape}")
    if num_classes is not None:
        bad = np.flatnonzero((y < 0) | (y >= num_classes))
        if bad.size:
            raise ValueError(f"{name}: labels must lie in [0, {num_classes}); index "
                             f"{int(bad[0])} holds {int(y[bad[0]])} ({bad.size} bad value(s))")
    return y.astype(np.int64)


def _target(name: str, target, probs: np.ndarray) -> np.ndarray:
    """The target as a distribution [N, K]: one-hot for labels, checked otherwise."""
    n, k = probs.shape
    t = np.asarray(target)
    if t.ndim == 1:
        return np.eye(k)[_labels(name, t, n, k)]
    t = _probs(name, t)
    if t.shape != probs.shape:
        raise ValueError(f"{name}: target distribution {t.shape} vs probs {probs.shape}")
    return t


def _n_bins(n_bins) -> int:
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins}")
    return int(n_bins)


# ---------------------------------------------------------------------------
# F1
# ---------------------------------------------------------------------------


def macro_f1(y_true, y_pred, num_classes: int | None = None) -> float:
    """Macro-averaged F1 (unweighted average F-score), mitra25 Table 2.

    ``F1_c = 2 TP_c / (2 TP_c + FP_c + FN_c)``, averaged over the classes seen
    in ``y_true`` or ``y_pred`` (as ``audmetric.unweighted_average_fscore``
    with inferred labels; a class with TP = 0 scores 0).

    Args:
      y_true, y_pred: integer labels ``[N]`` (in ``[0, num_classes)`` when given).
      num_classes: optional bound checked on both.

    Returns:
      A float in [0, 1]; NaN for N = 0.
    """
    y_true = _labels("macro_f1: y_true", y_true, None, num_classes)
    y_pred = _labels("macro_f1: y_pred", y_pred, y_true.shape[0], num_classes)
    if y_true.size == 0:
        return float("nan")
    k = int(max(y_true.max(), y_pred.max())) + 1
    tp = np.bincount(y_true[y_true == y_pred], minlength=k).astype(np.float64)
    n_true = np.bincount(y_true, minlength=k)
    n_pred = np.bincount(y_pred, minlength=k)
    present = (n_true > 0) | (n_pred > 0)
    f1 = 2.0 * tp / np.maximum(n_true + n_pred, 1)  # 2TP + FP + FN = n_true + n_pred
    return float(f1[present].mean())


# ---------------------------------------------------------------------------
# Calibration: ECE (top-label, class-wise), Brier
# ---------------------------------------------------------------------------


def reliability_bins(confidence, correct, n_bins: int = 15
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal-width reliability bins of a confidence (the reliability diagram).

    Binning: ``n_bins`` equal-width bins on [0, 1] with edges
    ``np.linspace(0, 1, n_bins + 1)``, right-closed: bin b holds the
    confidences in ``(edge_b, edge_{b+1}]``, the first bin also 0 (as Guo et
    al. 2017, "On calibration of modern neural networks", Sec. 3, and
    ``sklearn.calibration.calibration_curve(strategy='uniform')``).

    Args:
      confidence: ``[N]`` in [0, 1].
      correct: ``[N]`` in [0, 1]: 1/0 for a hit/miss, or a soft correctness
        (e.g. the vote share of the predicted class).
      n_bins: number of bins (>= 1).

    Returns:
      ``(counts [B] int, mean confidence [B], mean correct [B])``; the means
      are NaN in empty bins.
    """
    n_bins = _n_bins(n_bins)
    c = np.asarray(confidence, np.float64)
    a = np.asarray(correct, np.float64)
    if c.ndim != 1 or a.shape != c.shape:
        raise ValueError(f"reliability_bins: confidence {c.shape} and correct {a.shape} "
                         "must both be [N]")
    if np.any(~np.isfinite(c)) or np.any((c < 0) | (c > 1 + PROB_ATOL)):
        raise ValueError("reliability_bins: confidences must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges[1:-1], c, side="left"), 0, n_bins - 1)
    counts = np.bincount(idx, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(idx, weights=c, minlength=n_bins) / counts
        acc = np.bincount(idx, weights=a, minlength=n_bins) / counts
    return counts, conf, acc


def _ece(confidence, correct, n_bins) -> float:
    counts, conf, acc = reliability_bins(confidence, correct, n_bins)
    n = counts.sum()
    if n == 0:
        return float("nan")
    full = counts > 0
    return float(np.sum(counts[full] / n * np.abs(acc[full] - conf[full])))


def top_label_ece(probs, target, n_bins: int = 15) -> float:
    """Expected calibration error of the top-label confidence (Guo et al. 2017, Eq. (3)).

    ``ECE = sum_b |B_b| / N * |acc(B_b) - conf(B_b)|`` over the equal-width
    bins of :func:`reliability_bins` (default 15, Guo et al.'s choice), where
    the confidence is ``max_k p_k`` and the prediction its arg-max (ties: the
    lowest class index, ``np.argmax``). ``acc`` is the hit rate of the
    prediction against integer ``target`` labels; against a distribution
    target (the vote PDF) it is the mean target probability of the predicted
    class (the chance that a random grader agrees).

    Args:
      probs: ``[N, K]``; target: labels ``[N]`` or a distribution ``[N, K]``.

    Returns:
      A float in [0, 1]; NaN for N = 0.
    """
    p = _probs("top_label_ece: probs", probs)
    t = _target("top_label_ece: target", target, p)
    pred = p.argmax(-1)
    rows = np.arange(p.shape[0])
    return _ece(p[rows, pred], t[rows, pred], n_bins)


def classwise_ece(probs, target, n_bins: int = 15) -> float:
    """Class-wise expected calibration error (Kull et al. 2019, "Beyond temperature
    scaling", Sec. 3 "classwise-ECE").

    For each class k, the ECE of ``p_k`` against the indicator ``[target = k]``
    (labels) or the target probability ``t_k`` (a distribution), over the
    equal-width bins of :func:`reliability_bins` with all N rows in the
    denominator; the mean over the K classes.

    Args:
      probs: ``[N, K]``; target: labels ``[N]`` or a distribution ``[N, K]``.

    Returns:
      A float in [0, 1]; NaN for N = 0.
    """
    p = _probs("classwise_ece: probs", probs)
    t = _target("classwise_ece: target", target, p)
    if p.shape[0] == 0:
        return float("nan")
    return float(np.mean([_ece(p[:, k], t[:, k], n_bins) for k in range(p.shape[1])]))


def brier(probs, target) -> np.ndarray:
    """Multi-class Brier score per row: ``sum_k (p_k - t_k)^2`` (Brier 1950).

    ``t`` is the one-hot of integer ``target`` labels (the consensus) or a
    target distribution (the vote PDF). Not halved: each row lies in [0, 2]
    (0 = perfect; 2 = all mass on a wrong class against a one-hot target).
    The mean over rows equals ``sklearn.metrics.brier_score_loss`` for
    more than two classes.

    Args:
      probs: ``[N, K]``; target: labels ``[N]`` or a distribution ``[N, K]``.

    Returns:
      ``[N]`` float64.
    """
    p = _probs("brier: probs", probs)
    t = _target("brier: target", target, p)
    return np.sum((p - t) ** 2, axis=-1)


# ---------------------------------------------------------------------------
# Divergences from the vote distribution
# ---------------------------------------------------------------------------


def kl_divergence(target, probs, eps: float = KL_EPS) -> np.ndarray:
    """KL(target || probs) per row, in nats: ``sum_k t_k log(t_k / p_k)``, 0 log 0 = 0.

    The target (vote PDF) comes first, as in the KLD terms of sridhar21 Eq. (3)
    and prabhu22 Eq. (7). The predicted probabilities are floored at ``eps``
    (default ``KL_EPS`` = 1e-12, not renormalised), so that a class with votes
    but a predicted 0 costs ``t_k log(t_k / eps)`` (at most ~27.6 nats) rather
    than inf. Equals ``scipy.special.rel_entr(t, max(p, eps)).sum(-1)``.

    Args:
      target, probs: distributions ``[N, K]`` (or ``[K]``: a 0-d result).

    Returns:
      ``[N]`` float64, >= 0 up to the floor.
    """
    t = np.asarray(target, np.float64)
    p = np.asarray(probs, np.float64)
    if t.shape != p.shape or t.ndim not in (1, 2):
        raise ValueError(f"kl_divergence: target {t.shape} and probs {p.shape} must both be "
                         "[N, K] or [K]")
    t = _probs("kl_divergence: target", t, t.ndim)
    p = _probs("kl_divergence: probs", p, p.ndim)
    if not eps > 0:
        raise ValueError(f"kl_divergence: eps must be > 0, got {eps}")
    q = np.maximum(p, eps)
    terms = np.where(t > 0, t * (np.log(np.where(t > 0, t, 1.0)) - np.log(q)), 0.0)
    return terms.sum(-1)


def js_divergence(p, q) -> np.ndarray:
    """Jensen-Shannon divergence per row, in nats (no epsilon needed):
    ``JS = KL(p || m) / 2 + KL(q || m) / 2`` with ``m = (p + q) / 2``, 0 log 0 = 0.

    Symmetric, in [0, ln 2]. This is the *divergence*, the square of
    ``scipy.spatial.distance.jensenshannon`` (which returns the distance).

    Args:
      p, q: distributions ``[N, K]`` (or ``[K]``: a 0-d result).

    Returns:
      ``[N]`` float64.
    """
    p = np.asarray(p, np.float64)
    q = np.asarray(q, np.float64)
    if p.shape != q.shape or p.ndim not in (1, 2):
        raise ValueError(f"js_divergence: p {p.shape} and q {q.shape} must both be [N, K] or [K]")
    p = _probs("js_divergence: p", p, p.ndim)
    q = _probs("js_divergence: q", q, q.ndim)
    m = 0.5 * (p + q)

    def kl(a):
        return np.where(a > 0, a * (np.log(np.where(a > 0, a, 1.0))
                                    - np.log(np.where(a > 0, m, 1.0))), 0.0).sum(-1)

    return np.maximum(0.5 * kl(p) + 0.5 * kl(q), 0.0)


# ---------------------------------------------------------------------------
# Entropy and the graders' disagreement
# ---------------------------------------------------------------------------


def entropy(probs) -> np.ndarray:
    """Shannon entropy per row in nats, ``-sum_k p_k log p_k`` with 0 log 0 = 0, float64.

    The uncertainty of a predicted distribution (sridhar21 Sec. III-C) and, applied to the
    vote PDF, the graders' disagreement (0 = unanimous, ``ln K`` = votes spread evenly).
    The float64 numpy counterpart of :func:`seru.metrics.entropy` (``jnp``, float32 without
    x64), computed with ``scipy.special.entr`` on each row sorted, so that rows that are
    permutations of one another (votes 3-1-1 for different classes) get bit-identical
    entropies and tie in a ranking.

    Args:
      probs: ``[N, K]`` distributions (rows summing to 1).

    Returns:
      ``[N]`` in ``[0, ln K]``. Raises ``ValueError`` as the other functions of this module.
    """
    p = _probs("entropy: probs", probs)
    from scipy import special  # scipy loads when scoring starts, not before prediction

    return special.entr(np.sort(p, axis=-1)).sum(-1)


def spearman_entropy_votes(probs, votes) -> float:
    """Spearman's rank correlation between the predicted entropy and the vote entropy.

    Does the model's uncertainty rank the items as the graders' disagreement does? Both are
    Shannon entropies in nats (:func:`entropy`): of the predicted distribution and of the
    vote PDF (:func:`seru.data.labels.vote_pdf`). The vote entropy uses every vote, not
    only the share of the top class, and is on the scale of the predicted entropy.
    ``scipy.stats.spearmanr`` (ties get their average rank; Spearman 1904). The categorical
    counterpart of the ``calibration`` evaluator's ``cal_spearman_std``.

    Args:
      probs, votes: ``[N, K]`` distributions of one shape.

    Returns:
      A float in [-1, 1] (1: the most uncertain predictions are the items the graders
      disagree on most); NaN for N < 2 or when either entropy is the same on every row.

    Raises:
      ValueError: shapes that differ or rows that are not distributions.
    """
    h_pred = entropy(probs)
    h_votes = entropy(votes)
    if h_pred.shape != h_votes.shape or np.shape(probs) != np.shape(votes):
        raise ValueError(f"spearman_entropy_votes: probs {np.shape(probs)} and votes "
                         f"{np.shape(votes)} must have one shape")
    if h_pred.size < 2 or np.ptp(h_pred) == 0 or np.ptp(h_votes) == 0:
        return float("nan")
    from scipy import stats

    return float(stats.spearmanr(h_pred, h_votes).statistic)


# ---------------------------------------------------------------------------
# Hypotheses and their confusion (mitra25 Fig. 5)
# ---------------------------------------------------------------------------


def top_hypotheses(probs, k: int = 2) -> np.ndarray:
    """The k most probable classes of each row, best first: ``[N, k]`` int64.

    Ties go to the lower class index (so column 0 is ``np.argmax``). mitra25
    Appendix A.7 / Fig. 5 compares columns 0 and 1. Note
    :func:`seru.metrics.kbest_predictions` counts a tie in the target's
    favour instead; the two differ only on exactly tied probabilities.

    Raises ``ValueError`` unless ``1 <= k <= K``.
    """
    p = _probs("top_hypotheses: probs", probs)
    if not 1 <= k <= p.shape[1]:
        raise ValueError(f"top_hypotheses: k must lie in [1, {p.shape[1]}], got {k}")
    return np.argsort(-p, axis=-1, kind="stable")[:, :k]


def confusion(a, b, num_classes: int, normalize: str | None = None) -> np.ndarray:
    """Confusion counts ``C[i, j] = #{n : a_n = i and b_n = j}``, ``[K, K]``.

    With ``a`` the consensus and ``b`` the arg-max this is the usual confusion
    matrix; with the first and second hypotheses (:func:`top_hypotheses`) it is
    mitra25 Fig. 5. ``normalize``: ``None`` (counts), ``'row'`` (each row sums to
    1; a row without items stays 0, as ``audmetric.confusion_matrix(...,
    normalize=True)``) or ``'all'`` (the whole matrix sums to 1).
    """
    a = _labels("confusion: a", a, None, num_classes)
    b = _labels("confusion: b", b, a.shape[0], num_classes)
    c = np.zeros((num_classes, num_classes))
    np.add.at(c, (a, b), 1.0)
    if normalize is None:
        return c
    if normalize == "row":
        return c / np.maximum(c.sum(1, keepdims=True), 1.0)
    if normalize == "all":
        return c / max(c.sum(), 1.0)
    raise ValueError(f"confusion: normalize must be None, 'row' or 'all', got {normalize!r}")


# ---------------------------------------------------------------------------
# Per speaker / per group (mitra25 Table 3, Table 6, Fig. 4)
# ---------------------------------------------------------------------------


def _group_ids(name, group, n) -> tuple[np.ndarray, np.ndarray]:
    g = np.asarray(group)
    if g.shape != (n,):
        raise ValueError(f"{name}: expected a group per row [{n}], got shape {g.shape}")
    return np.unique(g, return_inverse=True)


def group_uar(y_true, y_pred, group, num_classes: int) -> dict[str, float]:
    """UAR (:func:`seru.metrics.uar`) of the rows of each group (e.g. speaker).

    Every group is scored on the same padded length (one compilation, not
    one per group size). mitra25 Fig. 4 plots it per speaker.

    Args:
      y_true, y_pred: labels ``[N]`` in ``[0, num_classes)``.
      group: ``[N]`` group names (str or int).

    Returns:
      ``{str(name): UAR}`` in sorted order of the names.
    """
    y_true = _labels("group_uar: y_true", y_true, None, num_classes)
    y_pred = _labels("group_uar: y_pred", y_pred, y_true.shape[0], num_classes)
    names, ids = _group_ids("group_uar", group, y_true.shape[0])
    if not names.size:
        return {}
    width = int(np.bincount(ids).max())
    out = {}
    for g, name in enumerate(names):
        rows = np.flatnonzero(ids == g)
        yt, yp, m = (np.zeros(width, np.int64) for _ in range(3))
        yt[:rows.size], yp[:rows.size], m[:rows.size] = y_true[rows], y_pred[rows], 1
        out[str(name)] = float(metrics.uar(yt, yp, num_classes, mask=m))
    return out


def kbest_pa_uar(y_true, probs, speaker, threshold: float, k: int = 1) -> float:
    """paUAR-X for the k-best hypotheses (mitra25 Table 3): the share of speakers
    whose k-best UAR exceeds ``threshold``.

    The k-best effective labels come from :func:`seru.metrics.kbest_predictions`
    (the target where it is among the k most probable classes, else the
    arg-max) and the share from :func:`seru.metrics.pa_uar` (strictly
    greater; each speaker's UAR with audmetric's class convention). k = 1 is
    the plain paUAR of the arg-max.

    Args:
      y_true: consensus labels ``[N]`` in ``[0, K)``; probs: ``[N, K]``.
      speaker: ``[N]`` speaker names (str or int).
      threshold: a fraction in [0, 1] (paUAR-75 is 0.75); k: 1..K.

    Returns:
      A fraction in [0, 1]; NaN for N = 0.
    """
    p = _probs("kbest_pa_uar: probs", probs)
    y = _labels("kbest_pa_uar: y_true", y_true, p.shape[0], p.shape[1])
    if not 1 <= k <= p.shape[1]:
        raise ValueError(f"kbest_pa_uar: k must lie in [1, {p.shape[1]}], got {k}")
    names, ids = _group_ids("kbest_pa_uar: speaker", speaker, y.shape[0])
    if not names.size:
        return float("nan")
    eff = np.asarray(metrics.kbest_predictions(y, p, k))
    return float(metrics.pa_uar(y, eff, ids, threshold, p.shape[1], names.size))


def kbest_pa_uar_by_group(y_true, probs, speaker, group, threshold: float, k: int = 1
                          ) -> dict[str, float]:
    """:func:`kbest_pa_uar` among the speakers of each group (mitra25 Table 6: paUAR-50/-75
    by gender): ``{str(group name): share of that group's speakers above threshold}``.

    A speaker's rows are split by ``group`` (a speaker is expected to have one
    gender; if not, each (speaker, group) part counts in its group). Shapes as
    :func:`kbest_pa_uar`; ``group`` is ``[N]``.
    """
    p = _probs("kbest_pa_uar_by_group: probs", probs)
    y = _labels("kbest_pa_uar_by_group: y_true", y_true, p.shape[0], p.shape[1])
    names, ids = _group_ids("kbest_pa_uar_by_group: group", group, y.shape[0])
    spk = np.asarray(speaker)
    return {str(name): kbest_pa_uar(y[ids == g], p[ids == g], spk[ids == g], threshold, k)
            for g, name in enumerate(names)}


def class_shares(y, group, num_classes: int) -> Mapping[str, np.ndarray]:
    """Share of each class among the rows of each group, ``{str(name): [K]}`` summing to 1
    (mitra25 Fig. 4: a speaker's emotion distribution)."""
    y = _labels("class_shares: y", y, None, num_classes)
    names, ids = _group_ids("class_shares", group, y.shape[0])
    return {str(name): np.bincount(y[ids == g], minlength=num_classes) / np.sum(ids == g)
            for g, name in enumerate(names)}
