"""Scores of ``benchmarks/compare_uncertainty.py``: every method's uncertainty on one scale.

Pure numpy / scipy on arrays (plus seru's vocabulary modules: ``seru.metrics``,
``seru.calibration``, ``seru.conformal``, ``seru.class_metrics``); nothing here trains,
loads a model or knows a system. The harness reads each run's ``predictions.npz`` into
the :class:`Rows` / :class:`ClassRows` below and calls :func:`score_regression` /
:func:`score_classes`, so that every method is scored by the same code.

Regression (a mean ``m`` and a positive uncertainty ``u`` per row: a std on the rating
scale, an entropy, or another positive score):

* ``ccc`` -- CCC of the mean against the gold standard (``seru.metrics.ccc``, ddof 0),
  pooled over the valid rows (frames of every recording, or utterances);
* ``spearman_std`` -- Spearman's rho of ``u`` with the raters' std (their disagreement),
  rows with a finite std;
* only where ``u`` is a std on the rating scale (``gaussian=True``): ``cal_error``
  (``seru.calibration.calibration_error``), ``coverage_90`` (share of gold values in
  ``m +- 1.645 u``) and ``coverage_90_ratings`` (share of the individual raters'
  ratings inside it: what a label-distribution model such as prabhu22's +LU is trained
  to cover), ``nll`` / ``crps`` (means of ``seru.metrics.gaussian_nll`` /
  ``crps_gaussian``), ``width_90`` (``seru.calibration.sharpness`` at 90 %);
* split-conformal with the normalised score ``|y - m| / u`` (``seru.conformal``) fitted
  on dev and applied to test, for every method: ``conf_coverage`` and ``conf_width``
  (mean width of ``m +- q u``, rating units). Frame-level data: one frame per dev
  recording (:func:`seru.conformal.recording_quantile`), averaged over ``draws``
  random draws (each draw's interval covers a frame drawn at random from a new
  exchangeable recording with probability >= 90 %; the mean over draws estimates that
  expected coverage); ``conf_pooled_*`` with every dev frame as a calibration row (no
  guarantee: frames of a recording are not exchangeable). ``conf_width_ratio``: the
  width divided by that of the same conformal procedure with a constant ``u``
  (absolute residuals), i.e. how much narrower the uncertainty makes the intervals at
  the same coverage (< 1: it helps);
* ``reject_area`` -- the CCC of the most certain rows (lowest ``u`` first) over the
  coverages 0.1, 0.2, ..., 1.0, integrated by the trapezoid rule and divided by the
  coverage range (0.9): a mean CCC in [-1, 1] (``seru.calibration.reject_curve`` /
  ``curve_area``); ``reject_gain`` = ``reject_area - ccc``; ``reject_efficiency`` = that
  gain over the gain of the oracle ordering (by each row's own error).

Class distributions (``probs`` ``[N, K]``, consensus labels, vote PDFs): ``uar``, ``ece``
(top-label, against the consensus; ``seru.class_metrics.top_label_ece``), ``brier``
(against the vote PDF), ``spearman_entropy`` (entropy of ``probs`` against the vote
entropy), APS sets (``seru.conformal.aps_quantile`` / ``aps_sets``, fitted on dev, no
randomisation) and their Mondrian form (``mondrian_quantiles``): test coverage of the
consensus label, mean set size, and the lowest per-class coverage; ``reject_area`` of
the UAR over coverage (most certain = lowest predicted entropy first), its gain and
efficiency as above (oracle: hits before misses).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import stats as sstats

from seru import calibration, class_metrics, conformal
from seru import metrics as smetrics

#: coverages of the reject curves (fractions of rows kept, most certain first)
COVERAGES = tuple(np.round(np.arange(0.1, 1.01, 0.1), 2))
ALPHA = 0.1
Z90 = float(sstats.norm.ppf(0.95))


# ---------------------------------------------------------------------------
# containers
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Rows:
    """One split of one regression run, one dimension, valid rows only.

    Attributes:
      y, m, u, rater_std: float64 ``[N]`` -- gold standard, predicted mean, predicted
        uncertainty, raters' std (NaN where undefined).
      group: int ``[N]`` -- the recording (or utterance) each row belongs to.
      framewise: whether rows are frames of recordings (conformal per recording).
      ratings: float64 ``[N, A]`` -- the individual raters' ratings (NaN where missing),
        or ``None``.
    """

    y: np.ndarray
    m: np.ndarray
    u: np.ndarray
    rater_std: np.ndarray
    group: np.ndarray
    framewise: bool
    ratings: np.ndarray | None = None

    def __post_init__(self):
        n = len(self.y)
        for name in ("m", "u", "rater_std", "group"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Rows.{name} has {len(getattr(self, name))} rows, y has {n}")

    def by_group(self, values) -> list[np.ndarray]:
        """``values`` ``[N]`` split by :attr:`group` (in order of first appearance)."""
        _, first, inv = np.unique(self.group, return_index=True, return_inverse=True)
        order = np.argsort(first)
        return [values[inv == g] for g in order]


@dataclasses.dataclass
class ClassRows:
    """One split of one classification run: ``probs`` ``[N, K]``, ``votes`` ``[N, K]``
    (the vote PDF), ``label`` ``[N]`` int (the consensus; -1 where there is none)."""

    probs: np.ndarray
    votes: np.ndarray
    label: np.ndarray


# ---------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------


def ccc(y, m) -> float:
    """CCC of ``m`` against ``y`` (1-d; :func:`seru.metrics.ccc`, population variances);
    NaN with fewer than 2 rows."""
    return float(smetrics.ccc(np.asarray(y, np.float64), np.asarray(m, np.float64)))


def spearman(a, b) -> float:
    """Spearman's rho of the rows where both are finite (scipy; ties averaged); NaN with
    fewer than 3 such rows or a constant input."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(sstats.spearmanr(a[ok], b[ok]).statistic)


def reject_curve(y, m, u, metric=calibration.ccc_metric) -> np.ndarray:
    """``metric`` of the most certain rows (lowest ``u`` first, ties in row order) at each
    of :data:`COVERAGES`: :func:`seru.calibration.reject_curve`; ``[len(COVERAGES)]``."""
    return calibration.reject_curve(y, m, u, metric, COVERAGES)


def reject_area(curve) -> float:
    """The trapezoid integral of ``curve`` over :data:`COVERAGES` divided by their span
    (:func:`seru.calibration.curve_area`): the mean metric over 10-100 % coverage."""
    return calibration.curve_area(COVERAGES, curve)


def reject_scores(y, m, u, metric=calibration.ccc_metric) -> dict:
    """``reject_curve`` (list), ``reject_area``, ``reject_oracle_area`` (the same with
    the rows' own errors as the uncertainty, :func:`seru.calibration.oracle_error`),
    ``reject_gain`` (area minus the metric on all rows: what the ordering adds) and
    ``reject_efficiency`` (that gain over the oracle's: 1 = the oracle ordering, 0 = no
    better than keeping rows at random, in expectation)."""
    curve = reject_curve(y, m, u, metric)
    oracle = reject_curve(y, m, calibration.oracle_error(y, m), metric)
    area, o_area, full = reject_area(curve), reject_area(oracle), curve[-1]
    return {"reject_curve": curve.tolist(), "reject_area": area,
            "reject_oracle_area": o_area, "reject_gain": area - full,
            "reject_efficiency": ((area - full) / (o_area - full) if o_area > full
                                  else float("nan"))}


def u_floor(u_dev) -> float:
    """The floor applied to ``u`` ``[N]`` before the normalised conformal score, as the
    evaluation job's ``--conformal`` applies it (:func:`seru.conformal_eval.spread_floor`):
    1 % of the median positive dev ``u``, at least 1e-6."""
    from seru.conformal_eval import spread_floor

    return float(spread_floor(np.asarray(u_dev, np.float64).reshape(-1, 1))[0])


def conformal_regression(dev: Rows, test: Rows, draws: int = 200, seed: int = 0,
                         alpha: float = ALPHA) -> dict:
    """Split-conformal intervals ``m +- q max(u, floor)`` fitted on ``dev``, scored on
    ``test`` (see the module docstring). Returns ``conf_coverage``, ``conf_width``,
    ``conf_inf_share`` (share of draws with ``q = inf``: too few dev recordings),
    ``conf_width_const`` (the same with ``u = 1``), ``conf_width_ratio`` and, for
    frame-level rows, ``conf_width_median`` (the median over the draws: the mean is
    dominated by the draws whose maximum picks a frame with a tiny ``u``) and
    ``conf_pooled_coverage`` / ``conf_pooled_width``; ``u_floor`` and
    ``u_floored_share`` (test rows at the floor)."""
    floor = u_floor(dev.u)
    ud, ut = np.maximum(dev.u, floor), np.maximum(test.u, floor)
    err_t = np.abs(test.y - test.m)

    def fit(u_d, u_t):
        scores = np.abs(dev.y - dev.m) / u_d
        if not dev.framewise:
            q = conformal.conformal_quantile(scores, alpha)
            return {"coverage": float(np.mean(err_t <= q * u_t)),
                    "width": float(np.mean(2 * q * u_t)), "inf_share": float(q == math.inf)}
        per_rec = dev.by_group(scores)
        cov, wid, inf = [], [], 0
        for r in range(draws):
            q = conformal.recording_quantile(per_rec, alpha, np.random.default_rng(seed + r))
            if q == math.inf:
                inf += 1
                continue
            cov.append(np.mean(err_t <= q * u_t))
            wid.append(np.mean(2 * q * u_t))
        qp = conformal.conformal_quantile(scores, alpha)
        return {"coverage": float(np.mean(cov)) if cov else 1.0,
                "width": float(np.mean(wid)) if wid else math.inf,
                "width_median": float(np.median(wid)) if wid else math.inf,
                "inf_share": inf / draws,
                "pooled_coverage": float(np.mean(err_t <= qp * u_t)),
                "pooled_width": float(np.mean(2 * qp * u_t))}

    own = fit(ud, ut)
    const = fit(np.ones_like(ud), np.ones_like(ut))
    out = {f"conf_{k}": v for k, v in own.items()}
    out["conf_width_const"] = const["width"]
    out["conf_width_ratio"] = (own["width"] / const["width"]
                               if np.isfinite(const["width"]) and const["width"] > 0
                               else float("nan"))
    out["u_floor"] = floor
    out["u_floored_share"] = float(np.mean(test.u <= floor))
    return out


# ---------------------------------------------------------------------------
# regression
# ---------------------------------------------------------------------------


def score_regression(dev: Rows, test: Rows, gaussian: bool, draws: int = 200) -> dict:
    """Every regression score of the module docstring on ``test`` (conformal fitted on
    ``dev``); ``gaussian``: ``u`` is a std on the rating scale of ``y``. Also returns the
    reject curve (``reject_curve``, a list over :data:`COVERAGES`) and, for Gaussian
    ``u``, the calibration curve (``cal_observed`` at ``seru.calibration.LEVELS``)."""
    y, m, u = test.y, test.m, test.u
    out = {"n_rows": int(len(y)), "ccc": ccc(y, m),
           "spearman_std": spearman(u, test.rater_std)}
    if gaussian:
        s = np.maximum(u, 1e-6)
        out["cal_error"] = calibration.calibration_error(y, m, s)
        out["cal_observed"] = calibration.quantile_calibration(y, m, s)[1].tolist()
        out["coverage_90"] = float(np.mean(np.abs(y - m) <= Z90 * s))
        if test.ratings is not None:
            r = np.asarray(test.ratings, np.float64)
            ok = np.isfinite(r)
            inside = np.abs(r - m[:, None]) <= Z90 * s[:, None]
            out["coverage_90_ratings"] = float(inside[ok].mean()) if ok.any() else float("nan")
        out["nll"] = float(np.mean(smetrics.gaussian_nll(y, m, s)))
        out["crps"] = float(np.mean(smetrics.crps_gaussian(y, m, s)))
        out["width_90"] = calibration.sharpness(s, 0.9)
    out.update(conformal_regression(dev, test, draws))
    out.update(reject_scores(y, m, u))
    return out


# ---------------------------------------------------------------------------
# class distributions
# ---------------------------------------------------------------------------


def entropy(p) -> np.ndarray:
    """Shannon entropy in nats per row of ``p`` ``[N, K]`` (0 log 0 = 0)."""
    p = np.asarray(p, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.sum(np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0), axis=-1)


def uar(y_true, y_pred, num_classes: int) -> float:
    """Unweighted average recall (:func:`seru.metrics.uar`: classes seen in the targets or
    the predictions); NaN for no row."""
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    if y_true.size == 0:
        return float("nan")
    return float(smetrics.uar(y_true, y_pred, num_classes))


def _aps(q, probs, label):
    sets = conformal.aps_sets(probs, q)
    hit = sets[np.arange(len(label)), label]
    per_class = [float(hit[label == c].mean()) for c in range(probs.shape[1])
                 if np.any(label == c)]
    return float(hit.mean()), float(sets.sum(1).mean()), min(per_class)


def score_classes(dev: ClassRows, test: ClassRows, alpha: float = ALPHA) -> dict:
    """Every class score of the module docstring on ``test`` (APS fitted on ``dev``, on
    the items with a consensus label). Also returns the UAR reject curve."""
    k = test.probs.shape[1]
    has = test.label >= 0
    p, y = test.probs[has], test.label[has]
    out = {"n_rows": int(has.sum()), "uar": uar(y, p.argmax(1), k),
           "ece": class_metrics.top_label_ece(p, y),
           "brier": float(np.mean(class_metrics.brier(test.probs, test.votes))),
           "spearman_entropy": spearman(entropy(test.probs), entropy(test.votes))}
    dh = dev.label >= 0
    q = conformal.aps_quantile(dev.probs[dh], dev.label[dh], alpha)
    out["aps_coverage"], out["aps_size"], out["aps_min_class_coverage"] = _aps(q, p, y)
    qm = conformal.mondrian_quantiles(dev.probs[dh], dev.label[dh], alpha)
    (out["mondrian_coverage"], out["mondrian_size"],
     out["mondrian_min_class_coverage"]) = _aps(qm, p, y)
    out.update(reject_scores(y, p.argmax(1).astype(np.int64), entropy(p),
                             calibration.uar_metric(k)))
    return out


# ---------------------------------------------------------------------------
# over seeds: summary and significance against the best method
# ---------------------------------------------------------------------------


def summary(values) -> dict:
    """``{"mean", "std" (ddof 1; 0 for one value), "values"}`` of the finite values
    (NaN mean and std for none)."""
    v = np.asarray([x for x in values if x is not None], np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return {"mean": float("nan"), "std": float("nan"), "values": []}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "values": v.tolist()}


def against_best(per_method: dict, better: str, target: float | None = None) -> dict:
    """Welch's one-tailed t-test (``scipy.stats.ttest_ind(equal_var=False)``) of the
    best method (by mean) against every other: "the best is better".

    ``per_method``: ``{method: [value per seed]}``; ``better``: ``'high'``, ``'low'``, or
    ``'target'`` (closest to ``target``: the test then runs on ``|value - target|``).
    Returns ``{"best": name, "p": {method: p or None}}`` (None for the best itself, for
    fewer than 2 finite values a side, or two constant equal groups).
    """
    if better not in ("high", "low", "target"):
        raise ValueError(f"better must be 'high', 'low' or 'target', got {better!r}")
    vals = {}
    for name, v in per_method.items():
        a = np.asarray([x for x in v if x is not None], np.float64)
        a = a[np.isfinite(a)]
        if better == "target":
            a = np.abs(a - target)
        vals[name] = -a if better == "high" else a  # lower is better from here on
    means = {n: a.mean() for n, a in vals.items() if a.size}
    if not means:
        return {"best": None, "p": {n: None for n in per_method}}
    best = min(means, key=means.get)
    p = {}
    for name, a in vals.items():
        b = vals[best]
        if name == best or a.size < 2 or b.size < 2:
            p[name] = None
            continue
        if np.ptp(a) == 0 and np.ptp(b) == 0:
            p[name] = None if a[0] == b[0] else 0.0
            continue
        t = sstats.ttest_ind(a, b, equal_var=False, alternative="greater")
        p[name] = float(t.pvalue)
    return {"best": best, "p": p}
